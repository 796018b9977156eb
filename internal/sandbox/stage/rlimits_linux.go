//go:build linux

package stage

// setRlimits sets each limit, soft and hard. Lowering always works; raising
// a hard limit above the server's needs CAP_SYS_RESOURCE, and without it the
// step fails with EPERM and the hard limit in force.
func setRlimits(c *Config) *StepError {
	for _, l := range c.Rlimits {
		var old rlimit
		if e := sysPrlimit(l.Resource, nil, &old); e != 0 {
			return &StepError{Step: StepRlimit, Errno: e, Resource: l.Resource, Detail: "get " + rlimitName(l.Resource)}
		}
		want := rlimit{cur: l.Cur, max: l.Max}
		if l.Max == KeepMax {
			want = rlimit{cur: min(l.Cur, old.max), max: old.max}
		}
		if e := sysPrlimit(l.Resource, &want, nil); e != 0 {
			return &StepError{Step: StepRlimit, Errno: e, Resource: l.Resource, Max: old.max,
				Detail: "set " + rlimitName(l.Resource) + " to " + utoa(want.cur) + "/" + utoa(want.max) +
					" (hard limit in force " + utoa(old.max) + ")"}
		}
	}
	return nil
}

func rlimitName(r int) string {
	switch r {
	case rlimitNofile:
		return "RLIMIT_NOFILE"
	case rlimitCPU:
		return "RLIMIT_CPU"
	case rlimitCore:
		return "RLIMIT_CORE"
	}
	return "rlimit " + utoa(uint64(r))
}
