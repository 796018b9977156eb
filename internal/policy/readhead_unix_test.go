//go:build unix

package policy

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// TestReadHeadOnlyTheResolvedFile: the policy reads a file (its "#!" line,
// its content to compare with the shells) by the real path it has just
// resolved. A file swapped since for a symbolic link (to a device node,
// say) is not followed, and a FIFO swapped in does not block the decision.
func TestReadHeadOnlyTheResolvedFile(t *testing.T) {
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	in := func(n string) string { return filepath.Join(top, n) }
	writeFile(t, in("script"), "#!/bin/true\nrest\n", 0o755)
	mkdir(t, in("dir"))
	writeFile(t, in("dir/script"), "#!/bin/true\n", 0o755)
	symlink(t, "/dev/zero", in("tozero"))
	symlink(t, "dir", in("dirlink"))
	if err := syscall.Mkfifo(in("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}

	var buf [256]byte
	if n, err := readHead(in("script"), buf[:]); err != nil || string(buf[:n]) != "#!/bin/true\nrest\n" {
		t.Fatalf("readHead(script) = %q, %v", buf[:n], err)
	}
	if sb, err := readShebang(in("dir/script")); err != nil || sb == nil || sb.interpreter != "/bin/true" {
		t.Fatalf("readShebang(dir/script) = %+v, %v", sb, err)
	}
	// Last component a symlink: refused everywhere.
	if n, err := readHead(in("tozero"), buf[:]); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("readHead through a symlink to /dev/zero = %d bytes, %v; want ELOOP", n, err)
	}
	if _, err := hashFile(in("tozero")); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("hashFile through a symlink to /dev/zero: %v; want ELOOP", err)
	}
	// A symlink before the last component: refused where openat2 is.
	if runtime.GOOS == "linux" {
		if _, err := readHead(in("dirlink/script"), buf[:]); err == nil {
			t.Errorf("readHead through a symlinked directory read the file")
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := readHead(in("fifo"), buf[:])
		if err == nil {
			_, err = hashFile(in("fifo"))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("readHead of a FIFO with no writer: %v (want nothing read)", err)
		}
	case <-time.After(5 * time.Second):
		// Unblock the open so that the test ends.
		if f, err := os.OpenFile(in("fifo"), os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		t.Fatal("reading a FIFO blocked the decision")
	}
}
