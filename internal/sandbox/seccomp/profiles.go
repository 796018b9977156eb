// Package seccomp builds the seccomp-BPF filters of SPEC 3.10 (the
// seccompProfile key): permissive, moderate and strict, and the baseline
// every child gets with or without a profile (SPEC 7.1, 7.1a).
//
// Guarantees, for every program (the baseline alone, and each profile,
// which starts with the baseline) and on every supported architecture
// (amd64, arm64):
//   - a system call made through any ABI other than the native one (i386 by
//     int 0x80 on amd64, arm32 on arm64) kills the whole process
//     (SECCOMP_RET_KILL_PROCESS): 32-bit programs do not run; on amd64 an
//     x32 system call (number with bit 0x40000000) fails with EPERM;
//   - socket(2) and socketpair(2) of the AF_VSOCK family (40; the low 32 bits
//     of the first argument, as the kernel reads it) fail with EPERM: vsock
//     reaches the hypervisor and other VMs past any network namespace;
//   - unless allowUnixSockets, socket(2) of the AF_UNIX family (1, the low 32
//     bits likewise) fails with EPERM, so a child can neither connect to
//     nor listen on a pathname or abstract unix socket (D-Bus, systemd,
//     docker.sock, ssh-agent...); socketpair(AF_UNIX) keeps working;
//   - ioctl(2) with TIOCSTI or TIOCLINUX (the low 32 bits of the request)
//     fails with EPERM, on any descriptor: neither can push input into a
//     terminal, the child's own pseudo-terminal included;
//   - io_uring_setup(2) fails with EPERM: io_uring creates and connects
//     sockets without a system call the filter could see;
//   - every name of Denied(profile) fails with EPERM, except clone3, which
//     fails with ENOSYS so that libc falls back to clone(2), whose flags a
//     filter can inspect;
//   - moderate and strict also refuse clone(2) with any CLONE_NEW* flag and
//     personality(2) with anything but a query or the harmless PER_LINUX32 /
//     UNAME26 values;
//   - strict lets through only Allowed("strict") (plus clone and personality
//     as above): any other known system call fails with EPERM, and a number
//     newer than this package's syscall table fails with ENOSYS, so that libc
//     falls back to an older call instead of failing;
//   - the baseline alone allows every other call;
//   - the program is at most 4096 instructions (BPF_MAXINSNS).
//
// The package never installs a filter in the server: Program only returns the
// bytes that the init stage installs (with no_new_privs set, on the thread
// that then execs) as its last step before execve, or, for the baseline
// alone, that the zygote installs on itself at its start for its children
// to inherit (stage.ZygoteSeccompEnv). Why each name is on each list is in
// docs/seccomp.md.
package seccomp

import (
	"runtime"
	"slices"

	"github.com/elastic/go-seccomp-bpf/arch"
)

// The profile names (config.SeccompProfiles).
const (
	Permissive = "permissive"
	Moderate   = "moderate"
	Strict     = "strict"
)

// Baseline names the program without a profile: the baseline rules alone.
const Baseline = ""

// baselineDenied is refused with EPERM by every program, the baseline
// included (see prologue).
const baselineDenied = "io_uring_setup"

// Profiles lists the profiles, from the most to the least restrictive.
func Profiles() []string { return []string{Strict, Moderate, Permissive} }

// permissiveDenied are the calls no sandboxed program has a business making:
// they change the running kernel or machine, reach into other processes, or
// expose the kernel's largest attack surfaces. Names that do not exist on
// the running architecture (umount, stime on amd64/arm64) are skipped.
var permissiveDenied = []string{
	// Replace or extend the running kernel.
	"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
	// Machine state shared with every other process.
	"reboot", "swapon", "swapoff", "acct",
	"settimeofday", "stime", "clock_settime", "clock_adjtime", "adjtimex",
	"quotactl", "quotactl_fd",
	// The mount table, including the new mount API (mount in disguise).
	"mount", "umount", "umount2", "pivot_root",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr",
	"mount_setattr",
	// Other processes' memory and descriptors.
	"ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
	// Large kernel attack surfaces.
	"bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
	// Bypasses path-based access checks (the "shocker" escape).
	"open_by_handle_at",
}

// moderateDenied is added to permissiveDenied by moderate and strict.
var moderateDenied = []string{
	// New namespaces: a user namespace grants every capability inside it and
	// opens kernel code paths unprivileged users otherwise cannot reach.
	"unshare", "setns",
	// io_uring: a second system call interface that seccomp cannot see into.
	"io_uring_setup", "io_uring_enter", "io_uring_register",
}

// Conditionally filtered calls (moderate and strict).
const (
	// cloneNewMask is every namespace flag clone(2) accepts. CLONE_NEWTIME
	// (0x80) is not here: clone(2) reads that bit as part of the exit signal,
	// so a new time namespace can only come from unshare or clone3, both
	// refused.
	//
	// CLONE_NEWNS 0x00020000 | NEWCGROUP 0x02000000 | NEWUTS 0x04000000 |
	// NEWIPC 0x08000000 | NEWUSER 0x10000000 | NEWPID 0x20000000 | NEWNET 0x40000000.
	cloneNewMask = 0x7e020000
	// enosysCall is refused with ENOSYS (libc then falls back to clone).
	enosysCall = "clone3"
)

// personalityAllowed are the personality(2) arguments moderate and strict
// accept, as Docker does: PER_LINUX, PER_LINUX32, UNAME26, both, and the
// 0xffffffff query. Everything else (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC,
// foreign personalities) is EPERM.
var personalityAllowed = []uint64{0x0, 0x8, 0x20000, 0x20008, 0xffffffff}

// strictAllowed is the strict allowlist: Docker's (moby) default profile
// minus what its own conditions leave out for a container without extra
// capabilities, minus the moderate and permissive denials, plus newer calls
// of the same kinds. clone and personality are allowed with conditions (see
// above). Names missing on the running architecture are skipped.
var strictAllowed = []string{
	// Hot paths first: the filter is a linear scan (the kernel caches the
	// verdict of argument-free rules, so this matters only once per call).
	"read", "write", "futex", "mmap", "munmap", "mprotect", "brk", "close",
	"openat", "newfstatat", "fstat", "statx", "lseek", "pread64", "pwrite64",
	"readv", "writev", "ioctl", "fcntl", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn",
	"epoll_pwait", "epoll_wait", "epoll_ctl", "ppoll", "poll", "getpid", "gettid",
	"clock_gettime", "clock_nanosleep", "nanosleep", "sched_yield", "madvise",
	"execve", "execveat", "exit", "exit_group", "wait4", "waitid",
	// The rest of Docker's default allowlist, alphabetically.
	"accept", "accept4", "access", "alarm", "arch_prctl", "bind", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_getres", "clock_getres_time64",
	"clock_gettime64", "clock_nanosleep_time64", "close_range", "connect", "copy_file_range",
	"creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl_old",
	"epoll_pwait2", "epoll_wait_old", "eventfd", "eventfd2", "faccessat", "faccessat2",
	"fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat",
	"fchown", "fchown32", "fchownat", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
	"flock", "fork", "fremovexattr", "fsetxattr", "fstat64", "fstatat64", "fstatfs",
	"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex_time64", "futex_waitv",
	"futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
	"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getppid", "getpriority", "getrandom", "getresgid",
	"getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list", "getrusage",
	"getsid", "getsockname", "getsockopt", "get_thread_area", "gettimeofday", "getuid",
	"getuid32", "getxattr", "inotify_add_watch", "inotify_init", "inotify_init1",
	"inotify_rm_watch", "io_cancel", "io_destroy", "io_getevents", "io_pgetevents",
	"io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lsetxattr", "lstat", "lstat64", "membarrier", "memfd_create",
	"memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
	"mlockall", "mmap2", "mq_getsetattr", "mq_notify", "mq_open", "mq_timedreceive",
	"mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
	"msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "_newselect",
	"open", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"ppoll_time64", "prctl", "preadv", "preadv2", "prlimit64", "process_mrelease",
	"pselect6", "pselect6_time64", "pwritev", "pwritev2", "readahead", "readlink",
	"readlinkat", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
	"rmdir", "rseq", "rt_sigpending", "rt_sigqueueinfo", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler", "seccomp",
	"select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
	"sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
	"setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
	"setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
	"setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
	"setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
	"setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "sigprocmask", "sigreturn", "socket", "socketcall", "socketpair", "splice",
	"stat", "stat64", "statfs", "statfs64", "symlink", "symlinkat", "sync", "sync_file_range",
	"syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "waitpid",
	// Newer calls of the same kinds (Linux 6.x), which newer libcs use first.
	"cachestat", "fchmodat2", "futex_wake", "futex_wait", "futex_requeue", "map_shadow_stack",
	"mseal", "pkey_alloc", "pkey_free", "pkey_mprotect", "getxattrat", "setxattrat",
	"listxattrat", "removexattrat", "uretprobe",
}

// conditionalAllowed are allowed by strict only under argument conditions.
var conditionalAllowed = []string{"clone", "personality"}

// runningArch is the syscall table of the architecture this binary runs on,
// or nil when go-seccomp-bpf has none for it.
func runningArch() *arch.Info {
	info, err := arch.GetInfo(runtime.GOARCH)
	if err != nil {
		return nil
	}
	return info
}

// onArch keeps the names that exist on info (all of them when info is nil).
func onArch(info *arch.Info, lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		for _, n := range l {
			if info != nil {
				if _, ok := info.SyscallNames[n]; !ok {
					continue
				}
			}
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// Denied returns the system calls the profile refuses whatever their
// arguments, as they exist on the running architecture: the Baseline's
// io_uring_setup; permissive's list adds its own; moderate's adds the
// namespace, the other io_uring calls and clone3; strict refuses the same
// names (and everything else not in Allowed). socket and socketpair of some
// families, clone with a CLONE_NEW* flag and personality with an unusual
// persona are refused too but are not listed: they depend on an argument.
// An unknown profile has no list.
func Denied(profile string) []string {
	info := runningArch()
	switch profile {
	case Baseline:
		return []string{baselineDenied}
	case Permissive:
		return onArch(info, []string{baselineDenied}, permissiveDenied)
	case Moderate, Strict:
		return onArch(info, permissiveDenied, moderateDenied, []string{enosysCall})
	}
	return nil
}

// Allowed returns the strict allowlist as it exists on the running
// architecture, without clone and personality (allowed only with the
// arguments above). The other profiles allow everything they do not deny and
// return nil.
func Allowed(profile string) []string {
	if profile != Strict {
		return nil
	}
	return onArch(runningArch(), strictAllowed)
}
