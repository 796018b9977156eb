//go:build linux

package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// openat2 copies the path to the stack when it fits, and leaves a longer
// one to unix.Openat2: the same descriptor kind and the same errors on
// both sides of the limit.
func TestOpenat2AsUnix(t *testing.T) {
	dir := t.TempDir()
	deep := dir
	for len(deep) < 1100 {
		deep = filepath.Join(deep, strings.Repeat("d", 50))
	}
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, n := range []int{400, 510, 511, 512, 513, 600, 1100} {
		p := deep[:n]
		if p[len(p)-1] == '/' {
			p = p[:len(p)-1]
		}
		paths = append(paths, p, p+"x", p+"/"+"\x00x")
	}
	for i := len(dir); i < len(deep); i++ { // every directory on the way, under and over the limit
		if deep[i] == '/' {
			paths = append(paths, deep[:i])
		}
	}
	opened := 0
	paths = append(paths, "/", "/etc/passwd", "/nonexistent/x", "rel", "", "/etc/\x00")
	for _, p := range paths {
		for _, how := range []unix.OpenHow{
			{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS},
			{Flags: unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC},
		} {
			fd1, err1 := openat2(p, &how)
			fd2, err2 := unix.Openat2(unix.AT_FDCWD, p, &how)
			if err1 != err2 || (err1 == nil && (fd1 < 0 || fd2 < 0)) {
				t.Errorf("openat2(%d bytes): fd %d, %v; unix.Openat2: fd %d, %v", len(p), fd1, err1, fd2, err2)
			}
			if err1 == nil && len(p) < 512 {
				opened++
			}
			for _, fd := range []int{fd1, fd2} {
				if err1 == nil && err2 == nil {
					unix.Close(fd)
				}
			}
		}
	}
	if opened < 10 {
		t.Fatalf("only %d paths under 512 bytes opened: the test misses the stack buffer's way", opened)
	}
}
