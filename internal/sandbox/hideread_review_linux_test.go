package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"golang.org/x/sys/unix"
)

// Review of the hidden files' read layer (FlagHideReads, session 10):
// regressions and gaps, each through the development profile as the
// server resolves it on a host with Landlock, with the server user's home
// outside /tmp and /var/tmp (the private directories, which the layer does
// not split). Each failed on main at b275591.

// reviewHome makes a home directory for the server user beneath /
// (outside the private directories) with mode perm, sets HOME to it and
// returns it.
func reviewHome(t *testing.T, perm os.FileMode) string {
	t.Helper()
	needRoot(t)
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skip("no Landlock on this host: ", err)
	}
	home, err := os.MkdirTemp("/", "mcp-review-home-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	if err := os.Chmod(home, perm); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	return home
}

// reviewIsolation is the development profile's isolation for the working
// directory dir; it must have the read layer.
func reviewIsolation(t *testing.T, dir string) Isolation {
	t.Helper()
	c := config.BuiltinDefault(dir)
	// As Load resolves the built-in default on a host with Landlock: writes
	// confined (the launch scope: the scripts run coreutils).
	c.Landlock, c.ExecutablePolicyScope = true, config.ScopeLaunch
	iso, err := IsolationFor(c)
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	if len(iso.HideRead) == 0 {
		t.Skipf("no read layer on this host: %v", iso.Missing)
	}
	return iso
}

// reviewShell runs script with sh in dir and returns its output (any exit
// status).
func reviewShell(t *testing.T, kind StageKind, iso Isolation, dir, script string) string {
	t.Helper()
	l := NewLauncher(LauncherOptions{Stage: kind, Isolation: iso})
	defer l.Close()
	spec := specFor(t, "sh", "-c", script)
	spec.Dir = dir
	out, _ := runAll(t, l, spec)
	return strings.TrimSpace(out)
}

// Every Landlock layer denies LANDLOCK_ACCESS_FS_REFER (a link or rename
// into another directory) unless it handles REFER and a rule grants it:
// the read layer handles READ_FILE only, so under it every cross-directory
// link or rename fails with EXDEV, in the working directory too (git mv,
// os.Rename, ln). The scope layer (signals, abstract sockets) does the
// same once any layer of the domain handles a filesystem right, which is
// why granting REFER beneath / in the read layer alone does not help: the
// scope layer (and the egress layer) must grant it as well. Baseline: the
// same isolation without the read layer links.
func TestReviewHiddenReadLayerKeepsCrossDirectoryLinks(t *testing.T) {
	reviewHome(t, 0o755)
	dir := hostDir(t)
	iso := reviewIsolation(t, dir)
	script := `rm -rf a b; mkdir a b && echo x > a/f && ln a/f b/g && cat b/g && echo linked`
	for _, kind := range []StageKind{StageGo, StageZygote} {
		if got := reviewShell(t, kind, iso, dir, script); !strings.HasSuffix(got, "x\nlinked") {
			t.Errorf("stage %v: a hard link from one directory of the working directory to another:\n%s", kind, got)
		}
	}
	base := iso
	base.HideRead = nil
	if got := reviewShell(t, StageZygote, base, dir, script); !strings.HasSuffix(got, "x\nlinked") {
		t.Errorf("baseline without the read layer:\n%s", got)
	}
}

// The Go stage lists the split directories after setIdentity, as the
// child: a split directory the child may search but not list (a home of
// mode 0711) gets no rule beneath it, so nothing in the working directory
// beneath it is readable, while the zygote (which lists as root) reads it.
// Baseline: without the read layer the Go stage reads it.
func TestReviewHiddenReadLayerGoStageTraverseOnlyHome(t *testing.T) {
	home := reviewHome(t, 0o711)
	work := filepath.Join(home, "proj")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "f"), []byte("WORK\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := reviewIsolation(t, work)
	for _, kind := range []StageKind{StageZygote, StageGo} {
		if got := reviewShell(t, kind, iso, work, "cat f"); got != "WORK" {
			t.Errorf("stage %v: a file of the working directory beneath a home of mode 0711: %q", kind, got)
		}
	}
	base := iso
	base.HideRead = nil
	if got := reviewShell(t, StageGo, base, work, "cat f"); got != "WORK" {
		t.Errorf("baseline without the read layer: %q", got)
	}
}

// The read layer leaves a file created after the launch directly in a
// split directory unreadable to that launch (git's lock files, sqlite,
// histories: created, then refused their O_RDWR open, left behind). So it
// comes only with Landlock's write confinement, under which no child can
// create a file there at all (every directory it may write is kept whole):
// with landlock false there is no read layer and missingGuarantees says
// why; with it, a child that points HOME at the server user's home (its
// own uid's, here) creates nothing there and leaves no lock file behind.
func TestReviewHiddenReadLayerOnlyWithWriteConfinement(t *testing.T) {
	home := reviewHome(t, 0o755)
	if err := os.Chown(home, 65534, 65534); err != nil { // the development profile's children
		t.Fatal(err)
	}
	dir := hostDir(t)
	c := config.BuiltinDefault(dir)
	c.Landlock, c.ExecutablePolicyScope = false, config.ScopeLaunch
	off, err := IsolationFor(c)
	if err != nil {
		t.Skip(err)
	}
	if len(off.HideRead) != 0 || !strings.Contains(strings.Join(off.Missing, "\n"), "needs Landlock's write confinement (landlock: true)") {
		t.Errorf("landlock false: HideRead %q, missing %q", off.HideRead, off.Missing)
	}
	iso := reviewIsolation(t, dir)
	if iso.Identity.Set && iso.Identity.UID != 65534 {
		t.Skipf("children run as %s", iso.Identity.Describe())
	}
	script := "export HOME=" + home + "; git config --global user.name b 2>&1; git config --global user.name"
	for _, kind := range []StageKind{StageZygote, StageGo} {
		reviewShell(t, kind, iso, dir, script)
		for _, f := range []string{".gitconfig", ".gitconfig.lock"} {
			if _, err := os.Stat(filepath.Join(home, f)); err == nil {
				t.Errorf("stage %v: the child created ~/%s", kind, f)
				os.Remove(filepath.Join(home, f))
			}
		}
	}
}

// A server started in its user's home (allowedWorkingDirectories defaults
// to the start directory) keeps every credential location beneath a
// directory the children keep whole: the read layer cannot cover them, so
// it is not reported, and missingGuarantees names them (they keep only
// their mask).
func TestReviewHiddenReadLayerServerStartedInHome(t *testing.T) {
	home := reviewHome(t, 0o777)
	c := config.BuiltinDefault(home)
	c.Landlock, c.ExecutablePolicyScope = true, config.ScopeLaunch
	iso, err := IsolationFor(c)
	if err != nil {
		t.Skip(err)
	}
	if len(iso.HideRead) != 0 || slices.Contains(iso.Layers(), hideReadLayer) {
		t.Errorf("the read layer is reported for paths it cannot cover: HideRead %q, layers %q", iso.HideRead, iso.Layers())
	}
	missing := strings.Join(iso.Missing, "\n")
	if !strings.Contains(missing, filepath.Join(home, ".git-credentials")) || !strings.Contains(missing, "keep only their mask") {
		t.Errorf("missingGuarantees does not name the uncovered credentials: %q", iso.Missing)
	}
	// Started elsewhere, the same home's credentials are covered.
	iso = reviewIsolation(t, hostDir(t))
	if !slices.Contains(iso.HideRead, filepath.Join(home, ".git-credentials")) || !slices.Contains(iso.Layers(), hideReadLayer) {
		t.Errorf("started outside the home: HideRead %q, layers %q", iso.HideRead, iso.Layers())
	}
}

// HideRead is resolved when the server builds its isolation: a hidden
// file that becomes a symbolic link afterwards (a dotfile manager links
// ~/.netrc to ~/dotfiles/netrc while the server runs) is masked at each
// launch through its target (the mask follows the link); the read layer
// must hide the target too (expandHidden), or the target's directory
// (~/dotfiles, an entry of the home) is granted whole and the host
// replacing the target by a rename would show the running child the new
// file. The same holds for a hidden link whose target
// does not exist yet at the start (EvalSymlinks fails: the target is not
// added). Control: an isolation built once the link and its target exist
// (a server started again) keeps the new file unreadable.
func TestReviewHiddenReadLayerLinkMadeAfterStart(t *testing.T) {
	home := reviewHome(t, 0o755)
	dir := hostDir(t)
	iso := reviewIsolation(t, dir) // the server starts: no ~/.netrc yet
	dot := filepath.Join(home, "dotfiles")
	if err := os.Mkdir(dot, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dot, "netrc")
	if err := os.Symlink("dotfiles/netrc", filepath.Join(home, ".netrc")); err != nil {
		t.Fatal(err)
	}
	run := func(kind StageKind, iso Isolation) string {
		t.Helper()
		ready, goFile := filepath.Join(dir, "ready"), filepath.Join(dir, "go")
		os.Remove(ready)
		os.Remove(goFile)
		if err := os.WriteFile(target, []byte("OLD SECRET\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 1000; i++ {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			os.WriteFile(target+".tmp", []byte("NEW SECRET\n"), 0o644)
			if err := os.Rename(target+".tmp", target); err != nil {
				t.Error(err)
			}
			os.WriteFile(goFile, nil, 0o644)
		}()
		got := reviewShell(t, kind, iso, dir, "cat "+home+"/.netrc; touch ready; while [ ! -e go ]; do sleep 0.01; done; cat "+home+"/.netrc")
		<-done
		return got
	}
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := run(StageZygote, reviewIsolation(t, dir)); strings.Contains(got, "SECRET") {
		t.Fatalf("control (the isolation built after the link was made):\n%s", got)
	}
	for _, kind := range []StageKind{StageZygote, StageGo} {
		if got := run(kind, iso); strings.Contains(got, "SECRET") {
			t.Errorf("stage %v: a hidden file made a link after the server's start, its target replaced on the host:\n%s", kind, got)
		}
	}
}

// The zygote keeps an O_PATH descriptor open on every entry of the split
// directories (up to 256) between launches: a filesystem mounted on one of
// them (sshfs or a USB disk on ~/remote, a partition on /boot or /home's
// entries) cannot be unmounted on the host while the zygote runs (EBUSY).
// Baseline: a zygote without the read layer does not hold it.
func TestReviewHiddenReadLayerZygoteKeepsNoMountBusy(t *testing.T) {
	home := reviewHome(t, 0o755)
	mnt := filepath.Join(home, "remote")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := hostDir(t)
	iso := reviewIsolation(t, dir)
	umountAfterLaunch := func(iso Isolation) error {
		t.Helper()
		if err := unix.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
			t.Skip(err)
		}
		l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
		defer l.Close()
		spec := specFor(t, "true")
		spec.Dir = dir
		out, st := runAll(t, l, spec)
		exitOK(t, out, st)
		err := unix.Unmount(mnt, 0)
		if err != nil {
			unix.Unmount(mnt, unix.MNT_DETACH)
		}
		return err
	}
	base := iso
	base.HideRead = nil
	if err := umountAfterLaunch(base); err != nil {
		t.Fatalf("baseline without the read layer: umount %s: %v", mnt, err)
	}
	if err := umountAfterLaunch(iso); err != nil {
		t.Errorf("umount %s on the host while the zygote runs: %v", mnt, err)
	}
}

// The same REFER denial before the read layer (pre-existing): with the
// Landlock write rules (landlock: true), which grant REFER beneath the
// working directory, the scope layer (which handles no filesystem right
// but, in a domain where another layer does, denies REFER like any layer)
// makes every cross-directory link fail with EXDEV in the working
// directory. Baseline: the same isolation without the scope layer.
func TestReviewLandlockWritesKeepCrossDirectoryLinks(t *testing.T) {
	needRoot(t)
	dir := hostDir(t)
	iso := reviewIsolation(t, dir)
	iso.HideRead = nil // the read layer aside (see above)
	iso.Landlock = true
	if !iso.Scope {
		t.Skip("no Landlock scopes on this host")
	}
	script := `rm -rf a b; mkdir a b && echo x > a/f && ln a/f b/g && cat b/g && echo linked`
	for _, kind := range []StageKind{StageGo, StageZygote} {
		if got := reviewShell(t, kind, iso, dir, script); !strings.HasSuffix(got, "x\nlinked") {
			t.Errorf("stage %v, Landlock write rules and scopes: a hard link between two directories of the working directory:\n%s", kind, got)
		}
	}
	base := iso
	base.Scope = false
	if got := reviewShell(t, StageGo, base, dir, script); !strings.HasSuffix(got, "x\nlinked") {
		t.Errorf("baseline without the scope layer:\n%s", got)
	}
}

// The REFER grants beneath / in every layer but the write layer widen
// nothing: a file of the working directory moves to the child's /tmp and
// back (both writable), but not into a directory the write layer keeps
// read-only, nor into a hidden directory; nothing lands there.
func TestLinksAndRenamesStayTheWriteLayers(t *testing.T) {
	home := reviewHome(t, 0o755)
	for _, d := range []string{".ssh", "outside"} {
		if err := os.Mkdir(filepath.Join(home, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	dir := hostDir(t)
	iso := reviewIsolation(t, dir)
	script := `echo x > f && mv f /tmp/f && mv /tmp/f f2 && echo moved; ` +
		`mv f2 ` + home + `/outside/f 2>/dev/null || echo refused-outside; ` +
		`ln f2 ` + home + `/outside/g 2>/dev/null || echo refused-outside-link; ` +
		`mv f2 ` + home + `/.ssh/f 2>/dev/null || echo refused-hidden`
	want := "moved\nrefused-outside\nrefused-outside-link\nrefused-hidden"
	for _, kind := range []StageKind{StageGo, StageZygote} {
		os.Remove(filepath.Join(dir, "f2"))
		if got := reviewShell(t, kind, iso, dir, script); got != want {
			t.Errorf("stage %v:\n%s\nwant\n%s", kind, got, want)
		}
		for _, f := range []string{"outside/f", "outside/g", ".ssh/f"} {
			if _, err := os.Lstat(filepath.Join(home, f)); err == nil {
				t.Errorf("stage %v: the child put %s in place", kind, f)
			}
		}
	}
}
