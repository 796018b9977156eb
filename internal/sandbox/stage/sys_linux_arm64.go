package stage

import _ "unsafe" // for go:linkname

// System call numbers (linux/arm64).
const (
	nrDup3                  = 24
	nrFcntl                 = 25
	nrChdir                 = 49
	nrOpenat                = 56
	nrClose                 = 57
	nrGetdents64            = 61
	nrRead                  = 63
	nrWrite                 = 64
	nrExitGroup             = 94
	nrRtSigprocmask         = 135
	nrRecvmsg               = 212
	nrPrlimit64             = 261
	nrExecveat              = 281
	nrCloseRange            = 436
	nrMount                 = 40
	nrUmount2               = 39
	nrPivotRoot             = 41
	nrChroot                = 51
	nrSethostname           = 161
	nrSocket                = 198
	nrIoctl                 = 29
	nrPrctl                 = 167
	nrCapget                = 90
	nrCapset                = 91
	nrSeccomp               = 277
	nrFchdir                = 50
	nrMountSetattr          = 442
	nrLandlockCreateRuleset = 444
	nrLandlockAddRule       = 445
	nrLandlockRestrictSelf  = 446
)

// rawSyscall6 enters the kernel directly (sys_linux_arm64.s).
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
