package stage

// System call numbers (linux/arm64).
const (
	nrDup3          = 24
	nrFcntl         = 25
	nrChdir         = 49
	nrOpenat        = 56
	nrClose         = 57
	nrGetdents64    = 61
	nrRead          = 63
	nrWrite         = 64
	nrExitGroup     = 94
	nrRtSigprocmask = 135
	nrPrlimit64     = 261
	nrExecveat      = 281
	nrCloseRange    = 436
)

// rawSyscall6 enters the kernel directly (sys_linux_arm64.s).
//
//go:noescape
func rawSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
