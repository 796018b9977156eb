//go:build linux

// Command helper is the test program of package seccomp: it installs the
// filter in a file the way the init stage does (no_new_privs, then
// seccomp(SECCOMP_SET_MODE_FILTER, TSYNC) on a locked thread) and then makes
// ONE system call named on its command line, printing "errno=N" (0 when the
// call succeeded), or execs a program.
//
//	helper FILTER|- ACTION [ARG...]
//
// "-" installs no filter: the baseline a test compares with.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

const missing = "/nonexistent-mcp-process-seccomp-test"

func main() {
	runtime.LockOSThread()
	if len(os.Args) < 3 {
		fail("usage: helper FILTER|- ACTION [ARG...]")
	}
	// A killed helper must not leave a core file behind.
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	if os.Args[1] != "-" {
		install(os.Args[1])
	}
	action, args := os.Args[2], os.Args[3:]
	if action == "exec" {
		err := syscall.Exec(args[0], args, os.Environ())
		fail("exec " + args[0] + ": " + err.Error())
	}
	fmt.Printf("errno=%d\n", int(call(action, args)))
}

func install(path string) {
	prog, err := os.ReadFile(path)
	if err != nil || len(prog) == 0 || len(prog)%8 != 0 {
		fail(fmt.Sprintf("filter %s: %d bytes, %v", path, len(prog), err))
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fail("no_new_privs: " + err.Error())
	}
	fprog := unix.SockFprog{Len: uint16(len(prog) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&prog[0]))}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER,
		unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fprog))); e != 0 {
		fail("seccomp: " + e.Error())
	}
	runtime.KeepAlive(prog)
}

func ptr(s string) uintptr {
	p, err := unix.BytePtrFromString(s)
	if err != nil {
		fail(err.Error())
	}
	return uintptr(unsafe.Pointer(p))
}

// call makes the named system call with arguments chosen so that, without a
// filter, it fails harmlessly with an error other than EPERM (or succeeds
// without lasting effect).
func call(action string, args []string) unix.Errno {
	var e unix.Errno
	switch action {
	case "getpid":
		_, _, e = unix.RawSyscall(unix.SYS_GETPID, 0, 0, 0)
	case "mount":
		_, _, e = unix.Syscall6(unix.SYS_MOUNT, ptr("none"), ptr(missing), ptr("tmpfs"), 0, 0, 0)
	case "umount2":
		_, _, e = unix.Syscall(unix.SYS_UMOUNT2, ptr(missing), 0, 0)
	case "chroot":
		_, _, e = unix.Syscall(unix.SYS_CHROOT, ptr(missing), 0, 0)
	case "ptrace":
		_, _, e = unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
	case "kexec_load":
		_, _, e = unix.RawSyscall6(unix.SYS_KEXEC_LOAD, 0, 0, 0, 0xdead0000, 0, 0)
	case "init_module":
		_, _, e = unix.RawSyscall(unix.SYS_INIT_MODULE, 0, 0, ptr(""))
	case "bpf":
		_, _, e = unix.RawSyscall(unix.SYS_BPF, 9999, 0, 0)
	case "keyctl":
		_, _, e = unix.RawSyscall(unix.SYS_KEYCTL, 9999, 0, 0)
	case "perf_event_open":
		_, _, e = unix.RawSyscall6(unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0, 0)
	case "userfaultfd":
		_, _, e = unix.RawSyscall(unix.SYS_USERFAULTFD, 0xffffffff, 0, 0)
	case "reboot":
		_, _, e = unix.RawSyscall6(unix.SYS_REBOOT, 0, 0, 0, 0, 0, 0) // wrong magic: EINVAL
	case "swapon":
		_, _, e = unix.Syscall(unix.SYS_SWAPON, ptr(missing), 0, 0)
	case "unshare-uts":
		_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUTS, 0, 0)
	case "unshare-user":
		// A multithreaded process cannot enter a user namespace: EINVAL.
		_, _, e = unix.RawSyscall(unix.SYS_UNSHARE, unix.CLONE_NEWUSER, 0, 0)
	case "setns":
		_, _, e = unix.RawSyscall(unix.SYS_SETNS, ^uintptr(0), 0, 0)
	case "clone-newnet":
		// CLONE_SIGHAND without CLONE_VM is EINVAL: no child is created.
		_, _, e = unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_NEWNET|unix.CLONE_SIGHAND, 0, 0, 0, 0, 0)
	case "clone-plain":
		_, _, e = unix.RawSyscall6(unix.SYS_CLONE, unix.CLONE_SIGHAND, 0, 0, 0, 0, 0)
	case "clone3":
		_, _, e = unix.RawSyscall(unix.SYS_CLONE3, 0, 0, 0)
	case "fork":
		if err := exec.Command("/bin/true").Run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			e = unix.ECHILD
			if errno, ok := err.(unix.Errno); ok {
				e = errno
			}
		}
	case "ioctl-tiocsti", "ioctl-tiocsti-hi", "ioctl-tioclinux", "ioctl-tcgets":
		// On /dev/null, not a terminal: ENOTTY without a filter, so
		// nothing is ever injected anywhere; the filter must answer EPERM
		// before the kernel looks at the descriptor.
		f, err := os.Open(os.DevNull)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		cmd := map[string]uintptr{"ioctl-tiocsti": unix.TIOCSTI, "ioctl-tiocsti-hi": 1<<32 | unix.TIOCSTI,
			"ioctl-tioclinux": unix.TIOCLINUX, "ioctl-tcgets": unix.TCGETS}[action]
		var buf [64]byte
		_, _, e = unix.RawSyscall(unix.SYS_IOCTL, f.Fd(), cmd, uintptr(unsafe.Pointer(&buf[0])))
		f.Close()
	case "io_uring_setup":
		_, _, e = unix.RawSyscall(unix.SYS_IO_URING_SETUP, 0, 0, 0)
	case "personality-bsd":
		_, _, e = unix.RawSyscall(unix.SYS_PERSONALITY, 0x0006, 0, 0)
	case "personality-query":
		_, _, e = unix.RawSyscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	case "syslog":
		_, _, e = unix.RawSyscall(unix.SYS_SYSLOG, 10, 0, 0) // SYSLOG_ACTION_SIZE_BUFFER
	case "vhangup":
		// The test runs the helper in a new session: no terminal to hang up.
		_, _, e = unix.RawSyscall(unix.SYS_VHANGUP, 0, 0, 0)
	case "socket-vsock", "socket-vsock-hi", "socket-inet", "socket-unix", "socket-unix-hi", "socket-unix-dgram":
		// Without a filter: a socket (closed again) where the host has
		// the family, else EAFNOSUPPORT; never EPERM.
		family, typ := uintptr(unix.AF_VSOCK), uintptr(unix.SOCK_STREAM)
		switch action {
		case "socket-vsock-hi":
			family |= 1 << 32 // the kernel reads an int: still AF_VSOCK
		case "socket-inet":
			family = unix.AF_INET
		case "socket-unix":
			family = unix.AF_UNIX
		case "socket-unix-hi":
			family = 1<<32 | unix.AF_UNIX // still AF_UNIX to the kernel
		case "socket-unix-dgram":
			family, typ = unix.AF_UNIX, unix.SOCK_DGRAM
		}
		var fd uintptr
		fd, _, e = unix.RawSyscall(unix.SYS_SOCKET, family, typ|unix.SOCK_CLOEXEC, 0)
		if e == 0 {
			unix.Close(int(fd))
		}
	case "socketpair-vsock":
		// vsock has no socketpair: EOPNOTSUPP without a filter.
		var fds [2]int32
		_, _, e = unix.RawSyscall6(unix.SYS_SOCKETPAIR, unix.AF_VSOCK, unix.SOCK_STREAM, 0, uintptr(unsafe.Pointer(&fds)), 0, 0)
		if e == 0 {
			unix.Close(int(fds[0]))
			unix.Close(int(fds[1]))
		}
	case "socketpair-unix":
		// A connected pair: allowed by every program.
		var fds [2]int32
		_, _, e = unix.RawSyscall6(unix.SYS_SOCKETPAIR, unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0, uintptr(unsafe.Pointer(&fds)), 0, 0)
		if e == 0 {
			unix.Close(int(fds[0]))
			unix.Close(int(fds[1]))
		}
	case "mkfifo":
		e = errnoOf(unix.Mknod(args[0], unix.S_IFIFO|0o600, 0))
	case "x32-getpid":
		_, _, e = unix.RawSyscall(unix.SYS_GETPID|0x40000000, 0, 0, 0)
	case "int80-getpid":
		r := int80(20) // getpid in the i386 table
		if int32(r) < 0 && int32(r) > -4096 {
			e = unix.Errno(-int32(r))
		}
	default:
		fail("unknown action " + action)
	}
	return e
}

func errnoOf(err error) unix.Errno {
	if err == nil {
		return 0
	}
	if e, ok := err.(unix.Errno); ok {
		return e
	}
	fail(err.Error())
	return 0
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "helper:", msg)
	os.Exit(99)
}
