package stage

import _ "unsafe" // for go:linkname

// System call numbers (linux/amd64).
const (
	nrRead                  = 0
	nrWrite                 = 1
	nrClose                 = 3
	nrRtSigprocmask         = 14
	nrFcntl                 = 72
	nrChdir                 = 80
	nrGetdents64            = 217
	nrExitGroup             = 231
	nrOpenat                = 257
	nrDup3                  = 292
	nrRecvmsg               = 47
	nrPrlimit64             = 302
	nrExecveat              = 322
	nrCloseRange            = 436
	nrMount                 = 165
	nrUmount2               = 166
	nrPivotRoot             = 155
	nrChroot                = 161
	nrSethostname           = 170
	nrSocket                = 41
	nrIoctl                 = 16
	nrPrctl                 = 157
	nrCapget                = 125
	nrCapset                = 126
	nrSeccomp               = 317
	nrFchdir                = 81
	nrMountSetattr          = 442
	nrLandlockCreateRuleset = 444
	nrLandlockAddRule       = 445
	nrLandlockRestrictSelf  = 446
)

// rawSyscall6 enters the kernel directly (sys_linux_amd64.s).
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
