//go:build linux

package config

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// linuxHost probes the running kernel for the isolation layers.
type linuxHost struct{}

func (linuxHost) root() bool { return os.Geteuid() == 0 }
func (linuxHost) uid() int   { return os.Geteuid() }
func (linuxHost) gid() int   { return os.Getegid() }

func (linuxHost) namespace(name string) error {
	file := map[string]string{"pid": "pid", "network": "net", "mount": "mnt", "uts": "uts", "ipc": "ipc", "user": "user"}[name]
	if _, err := os.Stat("/proc/self/ns/" + file); err != nil {
		return errors.New("this kernel has no " + name + " namespaces (/proc/self/ns/" + file + ")")
	}
	if name == "user" {
		b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
		if err == nil {
			if n, _ := strconv.Atoi(strings.TrimSpace(string(b))); n == 0 {
				return errors.New("user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0)")
			}
		}
	}
	return nil
}

func (linuxHost) mountSetattr() error {
	// A NULL attribute is EFAULT/EINVAL where the call exists, ENOSYS before Linux 5.12.
	_, _, e := unix.Syscall6(unix.SYS_MOUNT_SETATTR, ^uintptr(0), 0, 0, 0, 0, 0)
	if e == unix.ENOSYS {
		return errors.New("mount_setattr(2) is missing (Linux 5.12 or later is needed)")
	}
	return nil
}

func (linuxHost) seccomp() error {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return errors.New("this kernel has no seccomp (prctl PR_GET_SECCOMP: " + err.Error() + ")")
	}
	return nil
}

func (linuxHost) landlock() (int, error) { return LandlockABI() }

// ProbeNamespace says whether this kernel gives namespaces of kind name
// ("pid", "network", "mount", "uts", "ipc", "user"), and why not: the one
// probe behind Validate's refusals and doctor's report.
func ProbeNamespace(name string) error { return linuxHost{}.namespace(name) }

// ProbeMountSetattr says whether this kernel has mount_setattr(2) (the
// read-only filesystem in one call), and why not.
func ProbeMountSetattr() error { return linuxHost{}.mountSetattr() }

func (linuxHost) mac() (string, error) {
	kind, _ := activeMAC()
	if kind == "" {
		return "", errors.New("neither AppArmor nor SELinux is active on this host")
	}
	return kind, nil
}

// LandlockABI returns the Landlock ABI version the kernel supports
// (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION).
func LandlockABI() (int, error) {
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
}

// activeMAC returns the active exec-labelling LSM ("apparmor" or
// "selinux") and the attribute file that sets the label of the next exec.
func activeMAC() (kind, attr string) {
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.HasPrefix(string(b), "Y") {
		for _, p := range []string{"/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"} {
			if unix.Access(p, unix.W_OK) == nil {
				return "apparmor", p
			}
		}
	}
	if b, err := os.ReadFile("/proc/self/attr/current"); err == nil && len(b) > 0 {
		if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil && unix.Access("/proc/thread-self/attr/exec", unix.W_OK) == nil {
			return "selinux", "/proc/thread-self/attr/exec"
		}
	}
	return "", ""
}

// MACExec returns where and what the init stage writes so that the exec
// runs under profile: for AppArmor "exec PROFILE" to its exec attribute,
// for SELinux the context itself. With neither active: LAYER_UNAVAILABLE.
func MACExec(profile string) (path, value string, err error) {
	kind, attr := activeMAC()
	return macExec(kind, attr, profile)
}

func macExec(kind, attr, profile string) (path, value string, err error) {
	switch kind {
	case "apparmor":
		return attr, "exec " + profile, nil
	case "selinux":
		return attr, profile, nil
	}
	return "", "", errcode.Fail(errcode.LayerUnavailable, layer.MAC, "set enableMAC to false, or run the server on a host with AppArmor or SELinux active",
		"enableMAC: neither AppArmor nor SELinux is active on this host")
}

var host hostProbe = linuxHost{}
