//go:build linux

package hostfeat

import (
	"os"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Every name is a probe, once, and every probe has a name.
func TestEveryNameHasAProbe(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range Probes() {
		if p.Run == nil {
			t.Errorf("probe %q has no run", p.Name)
		}
		if seen[p.Name] {
			t.Errorf("probe %q twice", p.Name)
		}
		seen[p.Name] = true
	}
	for n := range run {
		if !seen[n] {
			t.Errorf("run has %q, which Probes does not list", n)
		}
	}
}

// A row says what the typed probe under it says: the one probe config
// refuses by and the sandbox builds by is the one doctor prints.
func TestRowsAreTheTypedProbes(t *testing.T) {
	rows := map[string]Result{}
	for _, p := range Probes() {
		rows[p.Name] = p.Run()
	}
	check := func(row string, err error) {
		t.Helper()
		r := rows[row]
		if r.Available != (err == nil) {
			t.Errorf("%s: row available=%v, typed probe error %v", row, r.Available, err)
		}
		if err != nil && !strings.HasPrefix(r.Detail, err.Error()) {
			t.Errorf("%s: row %q does not start with the probe's reason %q", row, r.Detail, err)
		}
	}
	for row, ns := range nsKinds {
		check(row, Namespace(ns.kind))
	}
	_, err := LandlockABI()
	check(LandlockRow, err)
	check(ScopeRow, LandlockScope())
	check(TCPConnectRow, LandlockTCP())
	check(MountSetattrRow, MountSetattr())
	_, err = AppArmor()
	check(AppArmorRow, err)
	_, err = SELinux()
	check(SELinuxRow, err)
	if rows[ServerRootRow].Available != (os.Geteuid() == 0) {
		t.Errorf("server-root: %v with euid %d", rows[ServerRootRow].Available, os.Geteuid())
	}
	eff, _ := Capabilities()
	if rows[ChrootRow].Available != HasCapability(eff, unix.CAP_SYS_CHROOT) {
		t.Errorf("chroot row %v, CapEff %s", rows[ChrootRow].Available, eff)
	}
}

// The probes make the kernel's call: where the kernel has the feature, the
// typed probe says so (this host's kernel is the reference).
func TestProbesAgreeWithTheKernel(t *testing.T) {
	if _, err := os.Stat("/proc/self/ns/pid"); err == nil {
		if err := Namespace("pid"); err != nil {
			t.Errorf("Namespace(pid) = %v with /proc/self/ns/pid present", err)
		}
	}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err == nil {
		detail, err := Seccomp()
		if err != nil {
			t.Errorf("Seccomp() = %v where PR_GET_SECCOMP works", err)
		} else if !strings.Contains(detail, "/proc/self/status: Seccomp:") {
			t.Errorf("Seccomp() detail %q has no status line", detail)
		}
	}
	abi, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	got, err := LandlockABI()
	if (e == 0) != (err == nil) || (e == 0 && got != int(abi)) {
		t.Errorf("LandlockABI() = %d, %v; the kernel: %d, %v", got, err, abi, e)
	}
	if e == 0 && abi >= 4 && LandlockTCP() != nil {
		t.Errorf("LandlockTCP() = %v with ABI %d", LandlockTCP(), abi)
	}
	if kind, attr := MAC(); kind != "" && !slices.Contains([]string{"apparmor", "selinux"}, kind) || (kind == "") != (attr == "") {
		t.Errorf("MAC() = %q %q", kind, attr)
	}
}
