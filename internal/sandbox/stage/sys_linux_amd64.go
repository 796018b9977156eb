package stage

// System call numbers (linux/amd64).
const (
	nrRead                  = 0
	nrWrite                 = 1
	nrClose                 = 3
	nrRtSigprocmask         = 14
	nrFcntl                 = 72
	nrChdir                 = 80
	nrClockGettime          = 228
	nrReadlinkat            = 267
	nrGetdents64            = 217
	nrExitGroup             = 231
	nrOpenat                = 257
	nrMmap                  = 9
	nrMprotect              = 10
	nrMunmap                = 11
	nrMadvise               = 28
	nrPread64               = 17
	nrDup3                  = 292
	nrRecvmsg               = 47
	nrRecvfrom              = 45
	nrSetTidAddress         = 218
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
	nrOpenat2               = 437
	nrFchdir                = 81
	nrMountSetattr          = 442
	nrFstatfs               = 138
	nrLandlockCreateRuleset = 444
	nrLandlockAddRule       = 445
	nrLandlockRestrictSelf  = 446
	nrSetgroups             = 116
	nrSetresuid             = 117
	nrSetresgid             = 119
	nrGetppid               = 110
	nrStatx                 = 332
	nrMkdirat               = 258
	nrBind                  = 49
	nrListen                = 50
	nrSendto                = 44
	nrClone                 = 56
	nrSetsid                = 112
	nrUnshare               = 272
	nrSendmsg               = 46
)

// Open flags whose values differ between architectures (arm64 has
// O_DIRECTORY 0x4000, where 0x10000 is O_DIRECT).
const (
	oDIRECTORY = 0x10000
	oNOFOLLOW  = 0x20000
)
