//go:build !linux

package hostfeat

import (
	"errors"
	"runtime"
)

// notLinux is every typed probe's answer off Linux.
func notLinux() error { return errors.New("this is " + runtime.GOOS + ", not Linux") }

// Namespace reports namespaces unavailable.
func Namespace(kind string) error { return notLinux() }

// MountSetattr reports mount_setattr(2) unavailable.
func MountSetattr() error { return notLinux() }

// LandlockABI reports Landlock unavailable.
func LandlockABI() (int, error) { return 0, notLinux() }

// LandlockScope reports Landlock unavailable.
func LandlockScope() error { return notLinux() }

// LandlockTCP reports Landlock unavailable.
func LandlockTCP() error { return notLinux() }

// Seccomp reports seccomp unavailable.
func Seccomp() (string, error) { return "", notLinux() }

// Root reports false: no kernel layer needs root off Linux.
func Root() bool { return false }

// AppArmor reports AppArmor unavailable.
func AppArmor() (string, error) { return "", notLinux() }

// SELinux reports SELinux unavailable.
func SELinux() (string, error) { return "", notLinux() }

// MAC reports no exec-labelling LSM.
func MAC() (kind, attr string) { return "", "" }

// Capabilities reports no capability sets.
func Capabilities() (eff, bnd string) { return "", "" }

// HasCapability reports false.
func HasCapability(eff string, c int) bool { return false }

// NFTables reports nf_tables unavailable.
func NFTables() error { return notLinux() }

// Unavailable is every named probe's answer off Linux (and doctor's for
// its own rows there).
func Unavailable() Result {
	return Result{false, "not available on " + runtime.GOOS + ": the kernel layers are Linux only"}
}

// run answers every named probe with Unavailable.
var run = func() map[string]func() Result {
	m := map[string]func() Result{}
	for _, n := range names {
		m[n] = Unavailable
	}
	return m
}()
