//go:build linux

package stage

// openMAC opens the LSM's exec attribute early, while /proc is the
// stage's (a chroot may have none); the value is written later.
func openMAC(c *Config) (int, *StepError) {
	if c.MACPath == "" {
		return -1, nil
	}
	fd, e := sysOpen(c.MACPath, oWronly|oCLOEXEC)
	if e != 0 {
		return -1, &StepError{Step: StepMAC, Errno: e, Detail: "open " + c.MACPath}
	}
	return fd, nil
}

// applyMAC writes the profile / context the exec switches to.
func applyMAC(fd int, c *Config) *StepError {
	if fd < 0 {
		return nil
	}
	b := []byte(c.MACValue)
	n, e := sysWrite(fd, b)
	sysClose(fd)
	if e != 0 || n != len(b) {
		return &StepError{Step: StepMAC, Errno: e, Detail: "write " + c.MACValue + " to " + c.MACPath}
	}
	return nil
}
