//go:build linux

package hostfeat

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Namespace reports whether this kernel gives namespaces of kind ("pid",
// "network", "mount", "uts", "ipc", "user"), and why not. It runs at each
// call: max_user_namespaces can change.
func Namespace(kind string) error {
	file := map[string]string{"pid": "pid", "network": "net", "mount": "mnt", "uts": "uts", "ipc": "ipc", "user": "user"}[kind]
	if _, err := os.Stat("/proc/self/ns/" + file); err != nil {
		return errors.New("this kernel has no " + kind + " namespaces (/proc/self/ns/" + file + ")")
	}
	if kind == "user" {
		if n, ok := maxUserNamespaces(); ok {
			if v, _ := strconv.Atoi(n); v == 0 {
				return errors.New("user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)")
			}
		}
	}
	return nil
}

// maxUserNamespaces reads /proc/sys/user/max_user_namespaces.
func maxUserNamespaces() (string, bool) {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil {
		return "", false
	}
	return strings.TrimSpace(string(b)), true
}

// MountSetattr reports whether this kernel has mount_setattr(2) (the
// read-only filesystem in one call), and why not. Probed once.
func MountSetattr() error { return mountSetattr() }

var mountSetattr = sync.OnceValue(func() error {
	// A NULL attribute is EFAULT/EINVAL where the call exists, ENOSYS before Linux 5.12.
	_, _, e := unix.Syscall6(unix.SYS_MOUNT_SETATTR, ^uintptr(0), 0, 0, 0, 0, 0)
	if e == unix.ENOSYS {
		return errors.New("mount_setattr(2) is missing (Linux 5.12 or later is needed)")
	}
	return nil
})

// LandlockABI returns the Landlock ABI version the kernel supports
// (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION), or why
// there is none. Probed once.
func LandlockABI() (int, error) { return landlockABI() }

var landlockABI = sync.OnceValues(func() (int, error) {
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if e != 0 {
		why := e.Error()
		if e == unix.EOPNOTSUPP {
			why = "built in but disabled at boot (add landlock to the lsm= kernel parameter)"
		} else if e == unix.ENOSYS {
			why = "not built into this kernel (Linux 5.13+ with CONFIG_SECURITY_LANDLOCK)"
		}
		return 0, errors.New("Landlock is unavailable: " + why)
	}
	return int(abi), nil
})

// LandlockScope reports whether this kernel can scope a Landlock domain
// for signals and abstract unix sockets, and why not: it asks for exactly
// those scopes (not the ABI number, which some kernels backport in part).
// Probed once.
func LandlockScope() error { return landlockScope() }

var landlockScope = sync.OnceValue(func() error {
	attr := [3]uint64{0, 0, 1<<0 | 1<<1} // LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL
	fd, _, e := syscall.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr), 0)
	if e != 0 {
		if e == syscall.ENOSYS || e == syscall.EOPNOTSUPP {
			return errors.New("no Landlock in this kernel")
		}
		return errors.New("this kernel's Landlock cannot scope signals and abstract unix sockets (" + e.Error() + ")")
	}
	syscall.Close(int(fd))
	return nil
})

// LandlockTCP reports whether Landlock can restrict TCP connect (ABI 4 or
// later), and why not.
func LandlockTCP() error {
	abi, err := LandlockABI()
	if err != nil {
		return err
	}
	if abi < 4 {
		return errors.New("Landlock ABI " + strconv.Itoa(abi) + " has no TCP rules (needs 4)")
	}
	return nil
}

// Seccomp reports whether this kernel enforces seccomp filters with the
// actions the profiles use (SECCOMP_RET_KILL_PROCESS and ERRNO, Linux
// 4.14+), with what /proc/self/status says, or why not. Probed once. The
// architectures the profiles are built for are the seccomp package's.
func Seccomp() (string, error) { return seccompProbe() }

// retKillProcess is SECCOMP_RET_KILL_PROCESS.
const retKillProcess = unix.SECCOMP_RET_KILL_PROCESS

var seccompProbe = sync.OnceValues(func() (string, error) {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return "", errors.New("prctl(PR_GET_SECCOMP): " + err.Error() + " (kernel built without CONFIG_SECCOMP)")
	}
	// The documented probe for filter mode: a NULL program is EFAULT when
	// filters are supported, EINVAL when they are not.
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, 0); e != unix.EFAULT {
		return "", errors.New("seccomp(SECCOMP_SET_MODE_FILTER) probe: " + e.Error() + " (kernel built without CONFIG_SECCOMP_FILTER)")
	}
	for _, a := range []uint32{retKillProcess, unix.SECCOMP_RET_ERRNO} {
		if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&a))); e != 0 {
			return "", fmt.Errorf("seccomp action %#x unavailable: %v (kernel older than 4.14?)", a, e)
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "", errors.New("reading /proc/self/status: " + err.Error())
	}
	var mode, filters string
	for l := range strings.SplitSeq(string(status), "\n") {
		switch {
		case strings.HasPrefix(l, "Seccomp:"):
			mode = strings.Join(strings.Fields(l), " ")
		case strings.HasPrefix(l, "Seccomp_filters:"):
			filters = strings.Join(strings.Fields(l), " ")
		}
	}
	if mode == "" {
		return "", errors.New("/proc/self/status has no Seccomp line (kernel built without CONFIG_SECCOMP)")
	}
	// Seccomp_filters (Linux 5.9+) is only printed with CONFIG_SECCOMP_FILTER;
	// older kernels that passed the probes above enforce filters all the same.
	line := strings.TrimSpace(mode + "; " + filters)
	if filters == "" {
		line = mode
	}
	return fmt.Sprintf("seccomp filter mode on %s (/proc/self/status: %s)", runtime.GOARCH, line), nil
})

// Root reports whether the server's effective uid is 0. It runs at each
// call.
func Root() bool { return os.Geteuid() == 0 }
