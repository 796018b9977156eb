//go:build linux

package stage

// setNoNewPrivs: execve never grants privileges again (setuid bits and
// file capabilities are inert). Every launch, whatever the config.
func setNoNewPrivs(*Config) *StepError {
	if _, e := rawSyscall6(nrPrctl, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepNoNewPrivs, Errno: e, Detail: "prctl(PR_SET_NO_NEW_PRIVS)"}
	}
	return nil
}
