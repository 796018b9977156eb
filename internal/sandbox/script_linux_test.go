//go:build linux

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A script finds files beside itself: "$0" and sys.argv[0]/__file__ are its
// real path (they were /dev/fd/3 when the kernel ran the script from its
// descriptor), and its arguments follow.
func TestScriptSeesItsOwnPath(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("beside me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := filepath.Join(dir, "tool.sh")
	if err := os.WriteFile(sh, []byte("#!/bin/sh\necho \"$0 $*\"\ncat \"$(dirname \"$0\")/data.txt\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, st := run(t, l, specFor(t, sh, "a", "b c"))
	if want := sh + " a b c\nbeside me\n"; out != want || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("output %q (exit %+v), want %q", out, st, want)
	}

	py := python(t)
	script := filepath.Join(dir, "tool.py")
	body := "#!" + py + " -u\nimport os, sys\nprint(sys.argv, __file__ == sys.argv[0])\nprint(open(os.path.join(os.path.dirname(__file__), 'data.txt')).read(), end='')\n"
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	out, st = run(t, l, specFor(t, script, "x"))
	if want := "['" + script + "', 'x'] True\nbeside me\n"; out != want || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("output %q (exit %+v), want %q", out, st, want)
	}
}

// The interpreter runs from a descriptor whose file identity is re-checked:
// an interpreter swapped since the check is refused, and so is a script
// whose interpreter was never checked.
func TestScriptInterpreterIdentityIsChecked(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	script := filepath.Join(t.TempDir(), "show")
	if err := os.WriteFile(script, []byte("#!/bin/cat\nhello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	swapped := specFor(t, script)
	swapped.Run.Ino++
	unchecked := specFor(t, script)
	unchecked.Run = nil
	for _, tc := range []struct {
		name string
		want string
		spec func() error
	}{
		{"interpreter swapped", "is no longer the file that was checked", func() error { _, err := l.Start(swapped, Stdio{}); return err }},
		{"interpreter unchecked", "interpreter was not checked", func() error { _, err := l.Start(unchecked, Stdio{}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec()
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.Internal || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("err = %v, want INTERNAL %q", err, tc.want)
			}
		})
	}
}
