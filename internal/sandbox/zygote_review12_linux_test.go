//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// mountNSLauncher is a zygote launcher whose launches have a private view
// (the default profile), so that its idle zygote holds the next child's
// mount namespace made ahead and watches the mount table meanwhile; dir
// is the launches' working directory (beneath /var/tmp, bound back).
func mountNSLauncher(t *testing.T) (*Launcher, string) {
	t.Helper()
	needZygote(t)
	needRoot(t)
	if !stage.VMForkSupported {
		t.Skip("the mount namespace is made ahead only where children share the zygote's memory")
	}
	if b, err := os.ReadFile("/proc/sys/fs/suid_dumpable"); err == nil && strings.TrimSpace(string(b)) == "1" {
		t.Skip("fs.suid_dumpable is 1: the zygote forks, and makes nothing ahead")
	}
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the default profile cannot be enforced here: %v", err)
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	t.Cleanup(l.Close)
	return l, dir
}

// heldMountNS is the mount namespace zygote z holds made ahead ("": none).
func heldMountNS(t *testing.T, z int) string {
	t.Helper()
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", z))
	for _, e := range ents {
		if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", z, e.Name())); strings.HasPrefix(link, "mnt:[") && link != own {
			return link
		}
	}
	return ""
}

// awaitHeld waits (5 s at most) for zygote z to idle holding a mount
// namespace made ahead (want true) or holding none (want false).
func awaitHeld(t *testing.T, z int, want bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if zygoteAwaitsLaunch(z) && (heldMountNS(t, z) != "") == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the zygote holds %q (want one: %v)", what, heldMountNS(t, z), want)
		}
	}
}

// zygoteCPU is the CPU time (user and system, in clock ticks) of pid.
func zygoteCPU(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return u + k
}

// idleFor checks that zygote z, waiting for its next launch, is not woken
// in a second (what says when).
func idleFor(t *testing.T, z int, what string) {
	t.Helper()
	waitZygoteAwaitsLaunch(t, z)
	time.Sleep(100 * time.Millisecond)
	sw, cpu := zygoteSwitches(t, z), zygoteCPU(t, z)
	time.Sleep(time.Second)
	if woken, used := zygoteSwitches(t, z)-sw, zygoteCPU(t, z)-cpu; woken > 20 || used > 10 {
		t.Fatalf("%s: the idle zygote was woken %d times and used %d ticks of CPU in a second", what, woken, used)
	}
}

// launchAndRelease starts a forked /bin/sleep 30 and releases it.
func launchAndRelease(t *testing.T, l *Launcher, dir string) *Process {
	t.Helper()
	spec := specFor(t, "/bin/sleep", "30")
	spec.Dir = dir
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Abort)
	if !p.forked {
		t.Fatal("not forked by the zygote")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	return p
}

// mountTmpfsWith mounts a tmpfs on dir/name with a file "here" in it.
func mountTmpfsWith(t *testing.T, dir, name string) string {
	t.Helper()
	sub := filepath.Join(dir, name)
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(sub, unix.MNT_DETACH) })
	if err := os.WriteFile(filepath.Join(sub, "here"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestZygoteMountChangeWhileIdle: a mount on the host while the zygote
// idles holding a namespace made ahead drops that namespace at once; the
// zygote then sleeps on (its wait no longer watches the mount table: no
// wake-up per change, no spin on the mount table's POLLPRI), later mounts
// while it holds none wake nothing, and the next launch sees every mount
// made meanwhile (it cannot have used the namespace made before them).
// Twice: the second namespace, made after the launch, is watched too.
func TestZygoteMountChangeWhileIdle(t *testing.T) {
	l, dir := mountNSLauncher(t)
	launchAndRelease(t, l, dir)
	z := l.zygotePid()
	for round := range 2 {
		awaitHeld(t, z, true, fmt.Sprintf("round %d, after a launch", round))
		a := mountTmpfsWith(t, dir, fmt.Sprintf("a%d", round))
		awaitHeld(t, z, false, fmt.Sprintf("round %d, after a mount on the host", round))
		idleFor(t, z, fmt.Sprintf("round %d, after the namespace made ahead was dropped", round))
		b := mountTmpfsWith(t, dir, fmt.Sprintf("b%d", round))
		idleFor(t, z, fmt.Sprintf("round %d, after a mount while it held none", round))
		p := launchAndRelease(t, l, dir)
		for _, sub := range []string{a, b} {
			if _, err := os.Lstat(fmt.Sprintf("/proc/%d/root%s/here", p.Pid, sub)); err != nil {
				t.Fatalf("round %d: the launch after the host mounted %s does not see it: %v", round, sub, err)
			}
		}
	}
}

// TestZygoteEndsWhenItsSocketClosesHoldingMountNS: a server that goes away
// (its end of the zygote's socket closed) while the zygote idles holding a
// namespace made ahead (its wait polls the socket and the mount table):
// the zygote ends at once, without spinning on the closed socket.
func TestZygoteEndsWhenItsSocketClosesHoldingMountNS(t *testing.T) {
	l, dir := mountNSLauncher(t)
	launchAndRelease(t, l, dir)
	z := l.zygotePid()
	awaitHeld(t, z, true, "after a launch")
	cpu := zygoteCPU(t, z)
	l.zmu.Lock()
	l.zyg.sock.Close()
	l.zmu.Unlock()
	start := time.Now()
	for st := zygoteState(z); st != "Z" && st != ""; st = zygoteState(z) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the zygote %d is still %s 2 s after its socket closed (%d ticks of CPU since)", z, st, zygoteCPU(t, z)-cpu)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestZygoteEndsOnAPartialLaunch: a launch cut off within its header (the
// server died while sending it): the zygote, reading the rest with raw
// calls, ends once the socket closes, as it did before.
func TestZygoteEndsOnAPartialLaunch(t *testing.T) {
	l, dir := mountNSLauncher(t)
	launchAndRelease(t, l, dir)
	z := l.zygotePid()
	awaitHeld(t, z, true, "after a launch")
	l.zmu.Lock()
	defer l.zmu.Unlock()
	if _, err := l.zyg.sock.Write([]byte{0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	sw := zygoteSwitches(t, z)
	time.Sleep(500 * time.Millisecond)
	t.Logf("woken %d times in 500 ms while waiting for the rest of a header", zygoteSwitches(t, z)-sw)
	if st := zygoteState(z); st == "Z" || st == "" {
		t.Fatal("the zygote ended before its socket closed")
	}
	l.zyg.sock.Close()
	start := time.Now()
	for st := zygoteState(z); st != "Z" && st != ""; st = zygoteState(z) {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("the zygote %d is still %s 2 s after its socket closed mid-launch", z, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
