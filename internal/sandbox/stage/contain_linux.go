//go:build linux

package stage

// contain applies every step in the order of SPEC 3.10 and then execs the
// target; it returns only on failure, with the step that failed. Each step
// is fatal: nothing runs half-prepared.
func contain(c *Config, fds []int) *StepError {
	script := c.Flags&FlagScript != 0
	exe, err := arrangeFDs(fds, script)
	if err != nil {
		return err
	}
	// The namespaces exist already: the launcher cloned this stage into them.
	mac, err := openMAC(c) // while /proc is still reachable
	if err != nil {
		return err
	}
	for _, step := range []func(*Config) *StepError{setupMounts, setHostname, raiseLoopback, setRlimits, enterDir} {
		if err := step(c); err != nil {
			return err
		}
	}
	argv, envv, err := execArgs(c)
	if err != nil {
		return err
	}
	if err := closeInherited(); err != nil {
		return err
	}
	// The parent moves us into the launch's cgroup and writes the launch
	// audit record while we wait.
	if err := awaitGo(); err != nil {
		return err
	}
	if err := setIdentity(c); err != nil {
		return err
	}
	if err := setCaps(c); err != nil {
		return err
	}
	if err := applyMAC(mac, c); err != nil {
		return err
	}
	if err := setNoNewPrivs(c); err != nil {
		return err
	}
	if err := restrictLandlock(c); err != nil {
		return err
	}
	if err := restrictScope(c, exe); err != nil {
		return err
	}
	if err := installSeccomp(c); err != nil {
		return err
	}
	return execTarget(exe, script, argv, envv)
}
