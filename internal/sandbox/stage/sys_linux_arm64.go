package stage

// System call numbers (linux/arm64).
const (
	nrDup3                  = 24
	nrFcntl                 = 25
	nrChdir                 = 49
	nrOpenat                = 56
	nrMmap                  = 222
	nrMprotect              = 226
	nrMunmap                = 215
	nrMadvise               = 233
	nrPread64               = 67
	nrClose                 = 57
	nrClockGettime          = 113
	nrReadlinkat            = 78
	nrGetdents64            = 61
	nrRead                  = 63
	nrWrite                 = 64
	nrExitGroup             = 94
	nrRtSigprocmask         = 135
	nrRecvmsg               = 212
	nrRecvfrom              = 207
	nrSetTidAddress         = 96
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
	nrOpenat2               = 437
	nrFchdir                = 50
	nrMountSetattr          = 442
	nrFstatfs               = 44
	nrLandlockCreateRuleset = 444
	nrLandlockAddRule       = 445
	nrLandlockRestrictSelf  = 446
	nrSetgroups             = 159
	nrSetresuid             = 147
	nrSetresgid             = 149
	nrGetppid               = 173
	nrStatx                 = 291
	nrMkdirat               = 34
	nrBind                  = 200
	nrListen                = 201
	nrSendto                = 206
	nrClone                 = 220
	nrSetsid                = 157
	nrUnshare               = 97
	nrSendmsg               = 211
)

// Open flags whose values differ between architectures (arm64 has
// O_DIRECTORY 0x4000, where 0x10000 is O_DIRECT).
const (
	oDIRECTORY = 0x4000
	oNOFOLLOW  = 0x8000
)
