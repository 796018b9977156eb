package policy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// replace puts a new file at p the way an installer does: written beside
// it, then renamed over it (a new inode).
func replace(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	tmp := p + ".new"
	writeFile(t, tmp, content, mode)
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// relink points the symbolic link p at target instead (p may be a file or
// a directory before).
func relink(t *testing.T, target, p string) {
	t.Helper()
	tmp := p + ".link"
	symlink(t, target, tmp)
	if err := os.RemoveAll(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
}

// TestDecisionsSeeChangesBetweenRequests: one Policy, several decisions,
// the filesystem changed between them. Each decision resolves the
// executable and the working directory anew: a symlink retargeted is
// followed to its new target, a file or directory replaced by a symlink
// (which the symlink-free fast path refuses) is resolved through it, and a
// replaced executable is what the next Spec describes.
func TestDecisionsSeeChangesBetweenRequests(t *testing.T) {
	f := newFixture(t)
	in := func(parts ...string) string { return filepath.Join(append([]string{f.root}, parts...)...) }
	bin := func(n string) string { return filepath.Join(f.bin, n) }
	mkdir(t, in("sp"))
	mkdir(t, in("sp2"))
	copyFile(t, f.trueBin, in("sp", "sptool"), 0o755)
	copyFile(t, f.trueBin, in("sp2", "sptool"), 0o755)
	copyFile(t, f.trueBin, bin("prog"), 0o755)
	copyFile(t, f.trueBin, bin("plain"), 0o755)
	symlink(t, "mytrue", bin("link"))
	mkdir(t, filepath.Join(f.work, "a"))
	mkdir(t, filepath.Join(f.work, "b"))
	symlink(t, filepath.Join(f.work, "a"), in("cwdlink"))

	cfg := f.baseConfig()
	cfg.SearchPath = f.bin + ":" + in("sp")
	cfg.AllowedExecutables = []string{bin("mytrue"), bin("prog"), bin("plain"), in("sp", "sptool")}
	p := mustNew(t, cfg)
	decide := func(exe, cwd string) Decision {
		return p.Evaluate(Request{Executable: exe, Cwd: cwd}, noon)
	}
	allowed := func(t *testing.T, exe, cwd, wantPath, wantDir string) *Spec {
		t.Helper()
		d := decide(exe, cwd)
		checkDecision(t, d, "", LayerExecutable)
		if d.Spec.Path != wantPath || d.Spec.Dir != wantDir {
			t.Fatalf("%s in %s: Path %s, Dir %s; want %s, %s", exe, cwd, d.Spec.Path, d.Spec.Dir, wantPath, wantDir)
		}
		return d.Spec
	}

	t.Run("symlink retargeted", func(t *testing.T) {
		allowed(t, "link", "", bin("mytrue"), f.work)
		relink(t, "other", bin("link"))
		checkDecision(t, decide("link", ""), errcode.ExecutableNotAllowed, LayerExecutable)
		relink(t, "mytrue", bin("link"))
		allowed(t, "link", "", bin("mytrue"), f.work)
	})
	// The allowlist entries name these paths, and an entry's own symlinks
	// are resolved too: both sides follow the new link.
	t.Run("file replaced by a symlink", func(t *testing.T) {
		allowed(t, bin("plain"), "", bin("plain"), f.work)
		relink(t, filepath.Join(f.outside, "hidden"), bin("plain"))
		allowed(t, bin("plain"), "", filepath.Join(f.outside, "hidden"), f.work)
	})
	t.Run("directory on the way replaced by a symlink", func(t *testing.T) {
		allowed(t, in("sp", "sptool"), "", in("sp", "sptool"), f.work)
		allowed(t, "sptool", "", in("sp", "sptool"), f.work)
		relink(t, in("sp2"), in("sp"))
		allowed(t, in("sp", "sptool"), "", in("sp2", "sptool"), f.work)
		allowed(t, "sptool", "", in("sp2", "sptool"), f.work)
	})
	t.Run("executable replaced", func(t *testing.T) {
		first := allowed(t, "prog", "", bin("prog"), f.work)
		copyFile(t, f.trueBin, bin("prog.new"), 0o755)
		if err := os.Rename(bin("prog.new"), bin("prog")); err != nil {
			t.Fatal(err)
		}
		second := allowed(t, "prog", "", bin("prog"), f.work)
		if second.Ino == first.Ino && second.Dev == first.Dev {
			t.Fatalf("the replaced file has the checked file's identity %d/%d", first.Dev, first.Ino)
		}
		replace(t, bin("prog"), "#!"+bin("mytrue")+"\n", 0o755)
		third := allowed(t, "prog", "", bin("prog"), f.work)
		if !third.Script || third.Shebang != "#!"+bin("mytrue") || third.Ino == second.Ino {
			t.Fatalf("the file replaced by a script: Script %v, Shebang %q, Ino %d (was %d)", third.Script, third.Shebang, third.Ino, second.Ino)
		}
		replace(t, bin("prog"), "#!"+bin("other")+"\n", 0o755) // other is not allowed
		checkDecision(t, decide("prog", ""), errcode.ExecutableNotAllowed, LayerExecutable)
		replace(t, bin("prog"), "data", 0o644)
		checkDecision(t, decide(bin("prog"), ""), errcode.ExecutableNotFound, LayerExecutable)
	})
	t.Run("working directory symlink retargeted", func(t *testing.T) {
		allowed(t, "mytrue", in("cwdlink"), bin("mytrue"), filepath.Join(f.work, "a"))
		relink(t, filepath.Join(f.root, "app", "workshop"), in("cwdlink"))
		checkDecision(t, decide("mytrue", in("cwdlink")), errcode.CwdNotAllowed, LayerWorkingDirectory)
		relink(t, filepath.Join(f.work, "b"), in("cwdlink"))
		allowed(t, "mytrue", in("cwdlink"), bin("mytrue"), filepath.Join(f.work, "b"))
	})
	t.Run("working directory replaced by a symlink", func(t *testing.T) {
		cwd := filepath.Join(f.work, "a")
		allowed(t, "mytrue", cwd, bin("mytrue"), cwd)
		relink(t, "/etc", cwd)
		checkDecision(t, decide("mytrue", cwd), errcode.CwdNotAllowed, LayerWorkingDirectory)
		relink(t, filepath.Join(f.work, "b"), cwd)
		allowed(t, "mytrue", cwd, bin("mytrue"), filepath.Join(f.work, "b"))
		replace(t, cwd, "now a file", 0o644)
		checkDecision(t, decide("mytrue", cwd), errcode.CwdNotFound, LayerWorkingDirectory)
	})
}
