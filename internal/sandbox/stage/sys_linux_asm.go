//go:build linux && (amd64 || arm64)

package stage

import _ "unsafe" // go:linkname

// rawSyscall6 enters the kernel directly (sys_linux_$GOARCH.s).
//
//go:noescape
func rawSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// blockingSyscall6 is rawSyscall6 for a call that may block for long (an
// idle stage waiting for its launch): the runtime hands the processor off
// meanwhile, as for any blocking system call, so that its monitor thread
// sleeps instead of preempting the stage every 10 ms.
//
//go:nosplit
func blockingSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr) {
	entersyscallblock()
	r1, errno = rawSyscall6(num, a1, a2, a3, a4, a5, a6)
	exitsyscall()
	return r1, errno
}
