//go:build linux

package selfprotect

import "syscall"

const prSetDumpable = 4 // PR_SET_DUMPABLE

func init() {
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetDumpable, 0, 0); e != 0 {
		err = e
	}
}

// Dumpable reports the calling process's dumpable mark (PR_GET_DUMPABLE).
func Dumpable() bool {
	r, _, _ := syscall.RawSyscall(syscall.SYS_PRCTL, 3, 0, 0) // PR_GET_DUMPABLE
	return r != 0
}
