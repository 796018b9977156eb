//go:build linux && !amd64 && !arm64

package stage

import "golang.org/x/sys/unix"

// On other architectures the stage uses x/sys/unix: correct, but it is
// initialised later in the program (after unix and its dependencies).
const (
	nrRead                  = unix.SYS_READ
	nrWrite                 = unix.SYS_WRITE
	nrClose                 = unix.SYS_CLOSE
	nrRtSigprocmask         = unix.SYS_RT_SIGPROCMASK
	nrFcntl                 = unix.SYS_FCNTL
	nrChdir                 = unix.SYS_CHDIR
	nrClockGettime          = unix.SYS_CLOCK_GETTIME
	nrReadlinkat            = unix.SYS_READLINKAT
	nrGetdents64            = unix.SYS_GETDENTS64
	nrExitGroup             = unix.SYS_EXIT_GROUP
	nrOpenat                = unix.SYS_OPENAT
	nrMadvise               = unix.SYS_MADVISE
	nrPread64               = unix.SYS_PREAD64
	nrDup3                  = unix.SYS_DUP3
	nrRecvmsg               = unix.SYS_RECVMSG
	nrRecvfrom              = unix.SYS_RECVFROM
	nrSetTidAddress         = unix.SYS_SET_TID_ADDRESS
	nrPrlimit64             = unix.SYS_PRLIMIT64
	nrExecveat              = unix.SYS_EXECVEAT
	nrCloseRange            = unix.SYS_CLOSE_RANGE
	nrMount                 = unix.SYS_MOUNT
	nrUmount2               = unix.SYS_UMOUNT2
	nrPivotRoot             = unix.SYS_PIVOT_ROOT
	nrChroot                = unix.SYS_CHROOT
	nrSethostname           = unix.SYS_SETHOSTNAME
	nrSocket                = unix.SYS_SOCKET
	nrIoctl                 = unix.SYS_IOCTL
	nrPrctl                 = unix.SYS_PRCTL
	nrCapget                = unix.SYS_CAPGET
	nrCapset                = unix.SYS_CAPSET
	nrSeccomp               = unix.SYS_SECCOMP
	nrOpenat2               = unix.SYS_OPENAT2
	nrFchdir                = unix.SYS_FCHDIR
	nrMountSetattr          = unix.SYS_MOUNT_SETATTR
	nrFstatfs               = unix.SYS_FSTATFS
	nrLandlockCreateRuleset = unix.SYS_LANDLOCK_CREATE_RULESET
	nrLandlockAddRule       = unix.SYS_LANDLOCK_ADD_RULE
	nrLandlockRestrictSelf  = unix.SYS_LANDLOCK_RESTRICT_SELF
	nrSetgroups             = unix.SYS_SETGROUPS
	nrSetresuid             = unix.SYS_SETRESUID
	nrSetresgid             = unix.SYS_SETRESGID
	nrGetppid               = unix.SYS_GETPPID
	nrStatx                 = unix.SYS_STATX
	nrMkdirat               = unix.SYS_MKDIRAT
	nrSymlinkat             = unix.SYS_SYMLINKAT
	nrBind                  = unix.SYS_BIND
	nrListen                = unix.SYS_LISTEN
	nrSendto                = unix.SYS_SENDTO
	nrSendmsg               = unix.SYS_SENDMSG
)

func rawSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr) {
	r, _, e := unix.RawSyscall6(num, a1, a2, a3, a4, a5, a6)
	return r, uintptr(e)
}

// blockingSyscall6 is rawSyscall6 for a call that may block for long.
func blockingSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr) {
	r, _, e := unix.Syscall6(num, a1, a2, a3, a4, a5, a6)
	return r, uintptr(e)
}

// Open flags whose values differ between architectures (arm64 has
// O_DIRECTORY 0x4000, where 0x10000 is O_DIRECT).
const (
	oDIRECTORY = unix.O_DIRECTORY
	oNOFOLLOW  = unix.O_NOFOLLOW
)
