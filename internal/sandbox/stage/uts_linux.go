//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// setHostname names the new UTS namespace.
func setHostname(c *Config) *StepError {
	if c.Hostname == "" {
		return nil
	}
	b := []byte(c.Hostname)
	_, e := rawSyscall6(nrSethostname, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0, 0)
	runtime.KeepAlive(b)
	if e != 0 {
		return &StepError{Step: StepHostname, Errno: e, Detail: "sethostname " + c.Hostname}
	}
	return nil
}
