//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// ifreq is struct ifreq as SIOCGIFFLAGS/SIOCSIFFLAGS use it.
type ifreq struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

// raiseLoopback brings lo up in the new network namespace (it starts down).
func raiseLoopback(c *Config) *StepError {
	if c.Flags&FlagLoopback == 0 {
		return nil
	}
	s, e := rawSyscall6(nrSocket, afInet, sockDgram|sockCloexec, 0, 0, 0, 0)
	if e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "socket"}
	}
	defer sysClose(int(s))
	var r ifreq
	copy(r.name[:], "lo")
	if _, e := rawSyscall6(nrIoctl, s, siocgifflags, uintptr(unsafe.Pointer(&r)), 0, 0, 0); e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "SIOCGIFFLAGS lo"}
	}
	r.flags |= iffUp
	if _, e := rawSyscall6(nrIoctl, s, siocsifflags, uintptr(unsafe.Pointer(&r)), 0, 0, 0); e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "SIOCSIFFLAGS lo up"}
	}
	runtime.KeepAlive(&r)
	return nil
}
