package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// homesFor prepares a homes root the children of s can reach.
func homesFor(t *testing.T, s *Supervisor) string {
	t.Helper()
	// Not in /tmp (the launch's working directory here, writable under
	// Landlock) nor in any directory the private view replaces (/var/tmp):
	// where a server keeps its state.
	d, err := os.MkdirTemp("/var/lib", "mcp-process-homes-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(d, "homes")
	if err := agenthome.Prepare(root, s.homeOwner); err != nil {
		t.Fatal(err)
	}
	return root
}

func withHome(t *testing.T, root, agent, script string) *policy.Spec {
	t.Helper()
	sp := specFor(t, "/bin/sh", "-c", script)
	home := agenthome.Path(root, agent)
	sp.Home = home
	sp.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	return sp
}

// The supervisor creates an agent's HOME on its first launch, mode 0700,
// owned by the uid the children run as; what one launch leaves there the
// next launch of the same agent finds.
func TestAgentHomeCreatedAndKept(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	root := homesFor(t, s)
	iso, _ := sandbox.IsolationFor(s.cfg)
	owner := iso.HomeOwner()

	first := withHome(t, root, agentA, `echo cached > "$HOME/cache" && id -u`)
	st := start(t, s, agentA, first, capture())
	if fin := waitExit(t, s, agentA, st.Pid); fin.ExitCode == nil || *fin.ExitCode != 0 {
		out, errOut := output(t, s, agentA, st.Pid)
		t.Fatalf("first launch failed: %v %q %q", fin.ExitCode, out, errOut)
	}
	home := first.Home
	fi, err := os.Lstat(home)
	if err != nil {
		t.Fatal(err)
	}
	hs := fi.Sys().(*syscall.Stat_t)
	if fi.Mode() != os.ModeDir|0o700 {
		t.Errorf("HOME mode %v, want drwx------", fi.Mode())
	}
	if owner.Set && (hs.Uid != owner.UID || hs.Gid != owner.GID) {
		t.Errorf("HOME owned by %d:%d, want the children's %d:%d", hs.Uid, hs.Gid, owner.UID, owner.GID)
	}
	cs, err := os.Stat(filepath.Join(home, "cache"))
	if err != nil {
		t.Fatalf("the child could not write its HOME: %v", err)
	}
	if owner.Set && cs.Sys().(*syscall.Stat_t).Uid != owner.UID {
		t.Errorf("the file the child wrote is owned by %d, want %d", cs.Sys().(*syscall.Stat_t).Uid, owner.UID)
	}

	second := withHome(t, root, agentA, `cat "$HOME/cache"`)
	st = start(t, s, agentA, second, capture())
	waitExit(t, s, agentA, st.Pid)
	if out, _ := output(t, s, agentA, st.Pid); out != "cached\n" {
		t.Errorf("the second launch read %q from its HOME, want what the first wrote", out)
	}

	// A launch whose HOME cannot be made fails before anything runs and
	// consumes no quota.
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	launches := len(fa.events("launch", 0))
	_, err = s.Start(agentB, withHome(t, root, agentB, "true"), capture())
	e := wantCode(t, err, errcode.Internal)
	if !strings.Contains(e.Message, "HOME") {
		t.Errorf("the error should say what failed: %v", e)
	}
	if n := len(fa.events("launch", 0)); n != launches {
		t.Errorf("a launch record was written for a launch that did not happen")
	}
	if _, err := os.Lstat(agenthome.Path(root, agentB)); err == nil {
		t.Errorf("a HOME was created under a root others may write")
	}
	if l := s.List(agentB, ""); len(l) != 0 {
		t.Errorf("agent B has processes: %v", l)
	}
}

// Under Landlock write confinement and the read-only filesystem the
// agent's HOME stays writable (SPEC 7.1a), and nothing else of the homes
// root becomes writable with it.
func TestAgentHomeWritableWhenConfined(t *testing.T) {
	for _, c := range []struct {
		name     string
		set      func(*config.Config)
		confined bool
	}{
		{"baseline: no confinement", func(*config.Config) {}, false},
		{"landlock", func(c *config.Config) { c.Landlock = true }, true},
		{"read-only filesystem", func(c *config.Config) { c.ReadOnlyFilesystem = true }, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := baseConfig()
			c.set(cfg)
			s, _ := newSup(t, cfg)
			root := homesFor(t, s)
			// Another agent's home, made writable for everyone: only the
			// confinement can keep this launch out of it.
			other := agenthome.Path(root, agentB)
			if err := agenthome.Ensure(other, s.homeOwner); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(other, 0o777); err != nil {
				t.Fatal(err)
			}
			sp := withHome(t, root, agentA, `echo ok > "$HOME/f" && cat "$HOME/f"; echo x > "$0/stolen" 2>/dev/null && echo wrote-other`)
			sp.Argv = append(sp.Argv, other)
			st := start(t, s, agentA, sp, capture())
			waitExit(t, s, agentA, st.Pid)
			out, errOut := output(t, s, agentA, st.Pid)
			if !strings.HasPrefix(out, "ok\n") {
				t.Errorf("the child could not write its own HOME: %q %q", out, errOut)
			}
			if wrote := strings.Contains(out, "wrote-other"); wrote == c.confined {
				t.Errorf("%s: wrote into another agent's HOME = %v, want %v (%q %q)", c.name, wrote, !c.confined, out, errOut)
			}
		})
	}
}

// With namespaces.user on a root server the children's host uid is one of
// the mapped range: the HOME belongs to it, and the child (65534 inside)
// owns and writes it.
func TestAgentHomeInUserNamespace(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: an unprivileged server's children are its own uid")
	}
	cfg := baseConfig()
	cfg.EnableNamespaces = true
	cfg.Namespaces.User = true
	// The private view hides the server user's credential locations; in
	// the user namespace the stage cannot even look beneath a 0700 /root
	// (EACCES, which fails the launch: a separate issue), so the server's
	// HOME here is one anybody may traverse.
	t.Setenv("HOME", t.TempDir())
	if err := os.Chmod(os.Getenv("HOME"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(os.Getenv("HOME")), 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := newSup(t, cfg)
	if !s.homeOwner.Set || s.homeOwner.UID < 65536 {
		t.Fatalf("home owner %+v, want a host uid of the user namespace's range", s.homeOwner)
	}
	root := homesFor(t, s)
	sp := withHome(t, root, agentA, `echo in-ns > "$HOME/f" && stat -c %u "$HOME"`)
	st := start(t, s, agentA, sp, capture())
	waitExit(t, s, agentA, st.Pid)
	out, errOut := output(t, s, agentA, st.Pid)
	if out != "65534\n" {
		t.Errorf("inside the namespace the HOME should be the child's own (65534): %q %q", out, errOut)
	}
	fi, err := os.Stat(filepath.Join(sp.Home, "f"))
	if err != nil {
		t.Fatalf("the child could not write its HOME: %v", err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != s.homeOwner.UID {
		t.Errorf("the child's file is owned by host uid %d, want %d", uid, s.homeOwner.UID)
	}
}
