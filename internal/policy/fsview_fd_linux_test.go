//go:build linux

package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// TestResolveByFdMatchesWalk resolves the same host paths by descriptor
// (openat2 + /proc/self/fd) and by filepath.EvalSymlinks and requires the
// same real path, the same error class and the same stat, including the
// cases the descriptor way must hand over to the walk.
func TestResolveByFdMatchesWalk(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := func(rel string) string { return top + "/" + rel } // not cleaned: "..", "." and "//" stay
	mkdir(t, in("a/b/c"))
	mkdir(t, in("other/inner"))
	writeFile(t, in("a/b/c/prog"), "#!/bin/true\n", 0o755)
	writeFile(t, in("a/suid"), "x", 0o755|os.ModeSetuid)
	writeFile(t, in("a/plain"), "x", 0o644)
	writeFile(t, in("a/x (deleted)"), "x", 0o755) // a name /proc would show for an unlinked file
	if err := syscall.Mkfifo(in("a/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	symlink(t, in("a/b"), in("abs"))                   // absolute
	symlink(t, "b/c/prog", in("a/rel"))                // relative
	symlink(t, "../other/inner", in("a/up"))           // relative with ..
	symlink(t, in("a/rel"), in("chain"))               // a chain: chain -> a/rel -> b/c/prog
	symlink(t, in("other/inner"), in("a/b/elsewhere")) // elsewhere/.. is other, not a/b
	symlink(t, in("nothing"), in("dangling"))
	symlink(t, "loop2", in("loop1"))
	symlink(t, "loop1", in("loop2"))
	symlink(t, "/proc/self/cwd", in("magic")) // through a magic link: the walk's business
	symlink(t, "x (deleted)", in("a/to-deleted"))

	ok := []string{
		"/", top, in("a"), in("a/b/c/prog"), in("a/suid"), in("a/plain"), in("a/fifo"), "/dev/null",
		in("abs/c/prog"), in("a/rel"), in("a/up"), in("chain"), in("a/b/elsewhere/.."),
		in("a/./b//c/"), in("a/b/../b/c/prog"), in("abs/../plain"), in("a/b/c/.."), in("a/b/c/../../plain"),
		"/..", in("a/x (deleted)"), // reached without a symlink: no /proc, the name is the path
	}
	// Through a symlink, the real path comes from /proc, which cannot tell
	// " (deleted)" in a name from an unlinked file.
	walkOnly := []string{in("a/to-deleted"), "/proc/self/cwd", in("magic"), "/proc/self/exe"}
	bad := []struct {
		p   string
		err error
	}{
		{in("nothing"), fs.ErrNotExist},
		{in("dangling"), fs.ErrNotExist},
		{in("a/b/nothing/x"), fs.ErrNotExist},
		{in("loop1"), nil}, // EvalSymlinks: "too many links", no errno
		{in("a/plain/x"), syscall.ENOTDIR},
		{in("a/plain/"), syscall.ENOTDIR},
	}

	fast, walk := view{}, view{noOpenat2: true}
	if _, _, answered, _ := resolveHostByFd(in("a/plain"), false); !answered {
		t.Skip("openat2 or /proc/self/fd is not usable here: the host always walks")
	}
	for _, p := range append(ok, walkOnly...) {
		want, err := filepath.EvalSymlinks(p)
		if err != nil {
			t.Fatalf("EvalSymlinks(%q): %v", p, err)
		}
		got, _, answered, err := resolveHostByFd(p, false)
		if answered && (err != nil || got != want) {
			t.Errorf("resolveHostByFd(%q) = %q, %v; EvalSymlinks says %q", p, got, err, want)
		}
		isWalkOnly := slices.Contains(walkOnly, p)
		if answered == isWalkOnly {
			t.Errorf("resolveHostByFd(%q): answered %v, want %v", p, answered, !isWalkOnly)
		}
		for _, v := range []view{fast, walk} {
			inner, host, fi, err, statErr := v.stat(p)
			if err != nil || statErr != nil || inner != want || host != want {
				t.Fatalf("stat(%q) (walk %v) = %q, %q, %v, %v; want %q", p, v.noOpenat2, inner, host, err, statErr, want)
			}
			wfi, err := os.Stat(want)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode() != wfi.Mode() || fi.Size() != wfi.Size() || !fi.ModTime().Equal(wfi.ModTime()) ||
				fi.Name() != wfi.Name() || fi.IsDir() != wfi.IsDir() {
				t.Errorf("stat(%q) (walk %v): mode %v size %d mtime %v name %q; os.Stat: %v %d %v %q",
					p, v.noOpenat2, fi.Mode(), fi.Size(), fi.ModTime(), fi.Name(), wfi.Mode(), wfi.Size(), wfi.ModTime(), wfi.Name())
			}
			if d, i := fileID(fi); d == 0 && i == 0 {
				t.Errorf("stat(%q): no device and inode", p)
			} else if wd, wi := fileID(wfi); d != wd || i != wi {
				t.Errorf("stat(%q): dev/ino %d/%d, os.Stat %d/%d", p, d, i, wd, wi)
			}
			if r, _, err := v.realpath(p); err != nil || r != want {
				t.Errorf("realpath(%q) (walk %v) = %q, %v; want %q", p, v.noOpenat2, r, err, want)
			}
			wantDir := wfi.IsDir()
			if r, isDir, err := v.dir(p); err != nil || r != want || isDir != wantDir {
				t.Errorf("dir(%q) (walk %v) = %q, %v, %v; want %q, %v", p, v.noOpenat2, r, isDir, err, want, wantDir)
			}
		}
	}
	// Errors: "no such file" is the descriptor way's own answer (callers
	// only ask errors.Is); any other error is the walk's, word for word.
	for _, tc := range bad {
		_, werr := filepath.EvalSymlinks(tc.p)
		if werr == nil || (tc.err != nil && !errors.Is(werr, tc.err)) {
			t.Fatalf("EvalSymlinks(%q) = %v, want %v (the test's premise)", tc.p, werr, tc.err)
		}
		for _, v := range []view{fast, walk} {
			_, _, err := v.realpath(tc.p)
			_, _, _, serr, _ := v.stat(tc.p)
			_, _, derr := v.dir(tc.p)
			for _, e := range []error{err, serr, derr} {
				switch {
				case e == nil:
					t.Errorf("%q (walk %v): no error, want %v", tc.p, v.noOpenat2, werr)
				case errors.Is(werr, fs.ErrNotExist):
					if !errors.Is(e, fs.ErrNotExist) {
						t.Errorf("%q (walk %v): %v, want not found", tc.p, v.noOpenat2, e)
					}
				case e.Error() != werr.Error():
					t.Errorf("%q (walk %v): %v, want %v", tc.p, v.noOpenat2, e, werr)
				}
			}
		}
	}
}

// TestResolveByFdNothingCached: a symlink retargeted after a first
// resolution resolves to its new target (nothing is cached).
func TestResolveByFdNothingCached(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(top, "one"))
	mkdir(t, filepath.Join(top, "two"))
	link := filepath.Join(top, "link")
	symlink(t, "one", link)
	if r, _, err := (view{}).realpath(link); err != nil || r != filepath.Join(top, "one") {
		t.Fatalf("realpath = %q, %v", r, err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	symlink(t, "two", link)
	if r, _, err := (view{}).realpath(link); err != nil || r != filepath.Join(top, "two") {
		t.Fatalf("after the link changed, realpath = %q, %v; want %s", r, err, filepath.Join(top, "two"))
	}
}
