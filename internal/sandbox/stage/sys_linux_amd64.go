package stage

// System call numbers (linux/amd64).
const (
	nrRead          = 0
	nrWrite         = 1
	nrClose         = 3
	nrRtSigprocmask = 14
	nrFcntl         = 72
	nrChdir         = 80
	nrGetdents64    = 217
	nrExitGroup     = 231
	nrOpenat        = 257
	nrDup3          = 292
	nrPrlimit64     = 302
	nrExecveat      = 322
	nrCloseRange    = 436
)

// rawSyscall6 enters the kernel directly (sys_linux_amd64.s).
//
//go:noescape
func rawSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
