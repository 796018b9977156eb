//go:build linux

package stage

// setIdentity makes the stage the target's user: no supplementary groups,
// GID, then UID (real, effective and saved). The permitted capabilities
// survive the change of uid (PR_SET_KEEPCAPS) and are made effective again,
// so that setCaps can still shape the bounding and ambient sets; setCaps
// then keeps only CapKeep, through the ambient set, since the target is no
// longer uid 0. The kernel clears the parent-death signal when the uid
// changes: it is set again, and if the launcher is already gone the stage
// exits rather than run a target nobody would kill.
func setIdentity(c *Config) *StepError {
	if c.Flags&FlagIdentity == 0 {
		return nil
	}
	ppid, _ := rawSyscall6(nrGetppid, 0, 0, 0, 0, 0, 0)
	if _, e := rawSyscall6(nrPrctl, prSetKeepcaps, 1, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_KEEPCAPS)"}
	}
	if _, e := rawSyscall6(nrSetgroups, 0, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "clear the supplementary groups"}
	}
	g, u := uintptr(c.GID), uintptr(c.UID)
	if _, e := rawSyscall6(nrSetresgid, g, g, g, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "setresgid " + utoa(uint64(c.GID))}
	}
	if _, e := rawSyscall6(nrSetresuid, u, u, u, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "setresuid " + utoa(uint64(c.UID))}
	}
	// The change of uid set this memory's dumpable flag to
	// fs.suid_dumpable: cleared again while the permitted capabilities
	// still keep a process of the new uid from tracing the stage (with the
	// sysctl at 1, it could otherwise between the capability drop and the
	// exec). The exec sets the target's own flag as for any exec.
	if _, e := rawSyscall6(nrPrctl, prSetDumpable, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_DUMPABLE, 0)"}
	}
	if _, e := rawSyscall6(nrPrctl, prSetKeepcaps, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_KEEPCAPS, 0)"}
	}
	if _, e := rawSyscall6(nrPrctl, prSetPdeathsig, sigKILL, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_PDEATHSIG)"}
	}
	if now, _ := rawSyscall6(nrGetppid, 0, 0, 0, 0, 0, 0); now != ppid {
		return &StepError{Step: StepIdentity, Detail: "the launcher went away"}
	}
	// Effective = permitted again (the uid change emptied the effective set).
	d, e := capGet()
	if e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "capget"}
	}
	for i := range d {
		d[i].effective = d[i].permitted
	}
	if e := capSet(d); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "capset"}
	}
	return nil
}
