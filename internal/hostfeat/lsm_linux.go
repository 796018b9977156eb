//go:build linux

package hostfeat

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// AppArmor returns the attribute file that labels this thread's next exec
// when AppArmor is enabled and the file is writable, or why not. It runs
// at each call.
func AppArmor() (attr string, err error) {
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	if err != nil || !strings.HasPrefix(string(b), "Y") {
		return "", errors.New("/sys/module/apparmor/parameters/enabled not Y")
	}
	for _, p := range []string{"/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec"} {
		if unix.Access(p, unix.W_OK) == nil {
			return p, nil
		}
	}
	return "", errors.New("enabled, but neither /proc/thread-self/attr/apparmor/exec nor /proc/thread-self/attr/exec is writable")
}

// SELinux returns the attribute file that labels this thread's next exec
// when SELinux is active (selinuxfs mounted, a current context) and the
// file is writable, or why not. It runs at each call.
func SELinux() (attr string, err error) {
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err != nil {
		return "", errors.New("/sys/fs/selinux not mounted")
	}
	if b, err := os.ReadFile("/proc/self/attr/current"); err != nil || len(b) == 0 {
		return "", errors.New("/sys/fs/selinux mounted, but this process has no context (/proc/self/attr/current)")
	}
	const p = "/proc/thread-self/attr/exec"
	if unix.Access(p, unix.W_OK) != nil {
		return "", errors.New("/sys/fs/selinux mounted, but " + p + " is not writable")
	}
	return p, nil
}

// MAC returns the active exec-labelling LSM ("apparmor" or "selinux",
// AppArmor first) and its attribute file, or "" when neither is active.
func MAC() (kind, attr string) {
	if a, err := AppArmor(); err == nil {
		return "apparmor", a
	}
	if a, err := SELinux(); err == nil {
		return "selinux", a
	}
	return "", ""
}

// Capabilities returns the server's effective and bounding capability
// sets as /proc/self/status prints them (hex), "" where it cannot be read.
// It runs at each call.
func Capabilities() (eff, bnd string) {
	return procStatusField("CapEff"), procStatusField("CapBnd")
}

// HasCapability reports whether the effective set eff (as Capabilities
// returns it) holds capability c (unix.CAP_*).
func HasCapability(eff string, c int) bool {
	v, err := strconv.ParseUint(eff, 16, 64)
	return err == nil && v&(1<<c) != 0
}

func procStatusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
