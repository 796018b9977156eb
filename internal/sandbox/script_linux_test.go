//go:build linux

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// The launcher opens the checked file by its real path without following a
// symbolic link swapped in since the check (to a device node, say) and
// without blocking on a FIFO swapped in: both launches are refused at once
// as a changed executable.
func TestSwappedExecutableIsNotOpened(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	trueBin, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip("no /bin/true")
	}
	body, err := os.ReadFile(trueBin)
	if err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	defer func() { // whatever happens, let a blocked open end
		if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	}()
	for _, tc := range []struct {
		name string
		swap func(p string) error
	}{
		{"symlink to a FIFO", func(p string) error { os.Remove(p); return os.Symlink(fifo, p) }},
		{"symlink to a device", func(p string) error { os.Remove(p); return os.Symlink("/dev/zero", p) }},
		{"FIFO", func(p string) error { os.Remove(p); return syscall.Mkfifo(p, 0o700) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exe := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-"))
			if err := os.WriteFile(exe, body, 0o755); err != nil {
				t.Fatal(err)
			}
			spec := specFor(t, exe)
			if err := tc.swap(exe); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				p, err := l.Start(spec, Stdio{})
				if err == nil {
					p.Abort()
				}
				done <- err
			}()
			select {
			case err := <-done:
				var e *errcode.Error
				if !errors.As(err, &e) || e.Code != errcode.Internal || !strings.Contains(e.Message, "executable changed") {
					t.Fatalf("err = %v, want INTERNAL executable changed", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the launch blocked opening the swapped file")
			}
		})
	}
}
