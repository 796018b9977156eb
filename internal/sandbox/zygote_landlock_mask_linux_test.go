package sandbox

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"golang.org/x/sys/unix"
)

// A hidden path that names /dev without being spelt "/dev" (a trailing
// slash, a link to it) hides the device files in the child's view: a Go
// stage then gives no rule for them, and neither may a zygote's child (a
// ruleset made ahead by the zygote with the host's device rules did, and
// was withdrawn: the child opens the devices in its own view). The host's
// /dev/null, reachable at another path (bound onto a file of a host
// directory), stays unwritable under Landlock either way.
func TestZygoteLandlockDevicesHiddenDev(t *testing.T) {
	needZygote(t)
	needRoot(t)
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skip(err)
	}
	other := hostDir(t)
	alias := filepath.Join(other, "null")
	if err := os.WriteFile(alias, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("/dev/null", alias, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("bind /dev/null: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(alias, unix.MNT_DETACH) })
	link := filepath.Join(hostDir(t), "devices")
	if err := os.Symlink("/dev", link); err != nil {
		t.Fatal(err)
	}
	private := hostDir(t)
	const want = "refused"
	for _, hidden := range []string{"/dev/", link} {
		run := func(l *Launcher) string {
			spec := specFor(t, "sh", "-c", `if echo x >"$1"; then echo written; else echo refused; fi`, "sh", alias)
			spec.Dir = hostDir(t)
			out, st := runAll(t, l, spec)
			exitOK(t, out, st)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return lines[len(lines)-1] // after the shell's complaint, if any
		}
		iso := Isolation{Landlock: true, Private: []string{private}, Masked: []string{hidden}}
		g := NewLauncher(LauncherOptions{Stage: StageGo, Isolation: iso})
		if got := run(g); got != want {
			t.Fatalf("hidden %s, Go stage: %s, want %s", hidden, got, want)
		}
		g.Close()
		l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
		for i := 0; i < 3; i++ {
			if got := run(l); got != want {
				t.Errorf("hidden %s, zygote's child %d: %s the host's /dev/null at %s, want %s (as a Go stage's)", hidden, i+1, got, alias, want)
			}
		}
		l.Close()
	}
}
