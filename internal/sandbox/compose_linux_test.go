//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// enableChroot without chrootDirectory is a jail composed at launch (SPEC
// 7.3): the host's system directories read-only (a link stays a link), the
// working directories and writablePaths writable, /etc's secrets hidden;
// the stage config asks for it, with a mount namespace.
func TestIsolationForComposedJail(t *testing.T) {
	work := t.TempDir()
	tools := t.TempDir()
	c := &config.Config{
		EnableChroot:              true,
		AllowedWorkingDirectories: []string{work},
		AllowedExecutables:        []string{filepath.Join(tools, "tool"), "node"},
		SearchPath:                config.DefaultSearchPath,
	}
	iso, err := IsolationFor(c)
	if err != nil {
		t.Fatal(err)
	}
	if !iso.Compose || iso.Root != "" || !iso.mountNS() {
		t.Fatalf("Compose %v Root %q mountNS %v", iso.Compose, iso.Root, iso.mountNS())
	}
	realWork, _ := filepath.EvalSymlinks(work)
	realTools, _ := filepath.EvalSymlinks(tools)
	if !slices.Contains(iso.ComposeRW, realWork) || !slices.Contains(iso.ComposeRO, realTools) {
		t.Errorf("ComposeRW %v ComposeRO %v: want %s writable and %s read-only", iso.ComposeRW, iso.ComposeRO, realWork, realTools)
	}
	for _, d := range ComposedSystemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
			if slices.Contains(iso.ComposeRO, d) {
				t.Errorf("%s is absent here but in ComposeRO", d)
			}
		case fi.Mode()&os.ModeSymlink != 0:
			target, _ := os.Readlink(d)
			i := slices.Index(iso.ComposeLinks, d)
			if i < 0 || i%2 != 0 || iso.ComposeLinks[i+1] != target {
				t.Errorf("the link %s -> %s is not in ComposeLinks %v", d, target, iso.ComposeLinks)
			}
		case !slices.Contains(iso.ComposeRO, d):
			t.Errorf("%s is not in ComposeRO %v", d, iso.ComposeRO)
		}
	}
	if !slices.Contains(iso.Masked, "/etc/shadow") {
		t.Errorf("/etc/shadow is not hidden: %v", iso.Masked)
	}
	if l := strings.Join(iso.Layers(), "|"); !strings.Contains(l, "chroot (composed at launch") {
		t.Errorf("Layers %q do not name the composed jail", l)
	}
	var sc stage.Config
	iso.apply(&sc)
	if sc.Flags&stage.FlagCompose == 0 || sc.Flags&stage.FlagMountNS == 0 || sc.Root != "" ||
		!slices.Equal(sc.ComposeRO, iso.ComposeRO) || !slices.Equal(sc.ComposeRW, iso.ComposeRW) {
		t.Errorf("stage config: flags %#x root %q RO %v RW %v", sc.Flags, sc.Root, sc.ComposeRO, sc.ComposeRW)
	}
	// A user's own jail is not composed.
	iso, _ = IsolationFor(&config.Config{EnableChroot: true, ChrootDirectory: work})
	if iso.Compose || iso.Root != work {
		t.Errorf("chrootDirectory: Compose %v Root %q", iso.Compose, iso.Root)
	}
}
