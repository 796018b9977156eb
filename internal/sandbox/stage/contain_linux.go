//go:build linux

package stage

// state is what the steps of one launch share: the config, the received
// descriptors, and what earlier steps leave for later ones.
type state struct {
	c          *Config
	fds        []int   // as received (SentExe, SentStdin, ...)
	script     bool    // FlagScript: the executable is a "#!" script
	exe        int     // the checked executable's descriptor (arrangeFDs)
	mac        int     // the MAC exec attribute, opened early (openMAC); -1: none
	argv, envv []*byte // execve's vectors, built before the gate (execArgs)
	hideRS     int     // the hidden files' read rules (prepareHiddenReads); -1: none
}

// A step is one containment step; an error is fatal.
type step func(*state) *StepError

// steps is the order of the containment, written once (SPEC 3.10); the
// package doc and docs/architecture.md point here. Each step lives in the
// file of its subsystem (named in the comment). The namespaces exist
// already: the launcher cloned this stage into them. A new step goes at its
// place in this list, with a Step name in protocol.go.
var steps = []step{
	func(s *state) (e *StepError) { s.exe, e = arrangeFDs(s.fds, s.script); return }, // stdio: fds_linux.go
	cfg(takeTerminal), // a pty launch: its own session, the terminal as controlling tty: terminal_linux.go
	func(s *state) (e *StepError) { s.mac, e = openMAC(s.c); return }, // while /proc is reachable: mac_linux.go
	cfg(setupMounts),   // private mounts, /proc, /sys, private view, read-only, pivot_root: mounts_linux.go, private_linux.go
	cfg(setHostname),   // uts_linux.go
	cfg(raiseLoopback), // net_linux.go
	cfg(setupEgress),   // an allowlist launch's listeners, capture and resolv.conf: egress_linux.go
	cfg(setRlimits),    // rlimits_linux.go
	cfg(enterDir),      // workdir_linux.go
	func(s *state) (e *StepError) { s.argv, s.envv, e = execArgs(s.c); return },     // exec_linux.go
	func(s *state) (e *StepError) { s.hideRS, e = prepareHiddenReads(s.c); return }, // listed with the stage's credentials: hideread_linux.go
	func(*state) *StepError { return closeInherited() },                             // fds_linux.go
	cfg(setIdentity), // identity_linux.go
	cfg(setCaps),     // caps_linux.go
	func(s *state) *StepError { return applyMAC(s.mac, s.c) }, // mac_linux.go
	cfg(setNoNewPrivs),    // nonewprivs_linux.go
	cfg(restrictLandlock), // landlock_linux.go
	func(s *state) *StepError { return restrictHiddenReads(s.hideRS) }, // hideread_linux.go
	func(s *state) *StepError { return restrictScope(s.c, s.exe) },     // scope_linux.go
	cfg(restrictNet),    // Landlock TCP rules of the network modes: egress_linux.go
	cfg(installSeccomp), // the last step that restricts: seccomp_linux.go
	// Report ready and wait for "go": every step has succeeded, the
	// launch's cgroup limits are written by then, and the parent writes the
	// launch audit record before it says "go" (gate_linux.go). Only the
	// exec is left after it.
	func(*state) *StepError { return awaitGo() },
	func(s *state) *StepError { return execTarget(s.exe, s.script, s.argv, s.envv) }, // exec_linux.go
}

// cfg is a step that needs only the config.
func cfg(f func(*Config) *StepError) step {
	return func(s *state) *StepError { return f(s.c) }
}

// contain applies every step in order and then execs the target (the last
// step); it returns only on failure, with the step that failed. Each step
// is fatal: nothing runs half-prepared.
func contain(c *Config, fds []int) *StepError {
	s := &state{c: c, fds: fds, script: c.Flags&FlagScript != 0, mac: -1, hideRS: -1}
	for _, run := range steps {
		if err := run(s); err != nil {
			return err
		}
	}
	return &StepError{Step: StepExec, Detail: "the exec returned"} // not reached: execTarget returns only on failure
}
