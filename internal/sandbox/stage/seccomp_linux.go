//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// sockFprog is struct sock_fprog.
type sockFprog struct {
	len    uint16
	filter *byte
}

// installSeccomp installs the filter, the last step before execve. It
// applies to this thread, the one that execs (the stage's other runtime
// threads end with the exec), so the target runs under it.
func installSeccomp(c *Config) *StepError {
	if len(c.Seccomp) == 0 {
		return nil
	}
	if len(c.Seccomp)%8 != 0 || len(c.Seccomp)/8 > 4096 {
		return &StepError{Step: StepSeccomp, Errno: eINVAL, Detail: "malformed filter of " + utoa(uint64(len(c.Seccomp))) + " bytes"}
	}
	// struct sock_filter needs 4-byte alignment; the decoded bytes may not have it.
	prog := make([]uint64, len(c.Seccomp)/8)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(c.Seccomp)), c.Seccomp)
	p := sockFprog{len: uint16(len(prog)), filter: (*byte)(unsafe.Pointer(&prog[0]))}
	_, e := rawSyscall6(nrSeccomp, seccompSetModeFilter, 0, uintptr(unsafe.Pointer(&p)), 0, 0, 0)
	runtime.KeepAlive(&p)
	runtime.KeepAlive(prog)
	if e != 0 {
		return &StepError{Step: StepSeccomp, Errno: e, Detail: "seccomp(SECCOMP_SET_MODE_FILTER)"}
	}
	return nil
}
