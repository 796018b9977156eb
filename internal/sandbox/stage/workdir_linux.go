//go:build linux

package stage

// enterDir changes to the launch's working directory.
func enterDir(c *Config) *StepError {
	dir := c.Dir
	if dir == "" {
		return nil
	}
	// By descriptor, with no symbolic link in any component: the directory
	// the policy resolved (a real path) cannot be swapped for a link to a
	// blocked one between the check and now.
	fd, e := sysOpenNoSymlinks(dir, oPath|oDirectory|oCLOEXEC)
	if e != 0 {
		return &StepError{Step: StepChdir, Errno: e, Detail: "open " + dir + " (no symbolic links allowed)"}
	}
	_, e = rawSyscall6(nrFchdir, uintptr(fd), 0, 0, 0, 0, 0)
	sysClose(fd)
	if e != 0 {
		return &StepError{Step: StepChdir, Errno: e, Detail: "chdir " + dir}
	}
	return nil
}
