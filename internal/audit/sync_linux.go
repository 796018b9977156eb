//go:build linux

package audit

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// dataSync is fdatasync: a record's bytes and what it takes to read them
// back (the file's size) on disk, without the timestamps fsync also
// writes. A log that only grows by appends needs nothing more to survive a
// crash; it saves ~50 us of the ~200 us an fsync takes here, twice per
// launch (docs/performance.md).
func dataSync(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		for {
			if serr = unix.Fdatasync(int(fd)); serr != unix.EINTR {
				return
			}
		}
	}); err != nil {
		return err
	}
	if serr != nil {
		return &fs.PathError{Op: "fdatasync", Path: f.Name(), Err: serr}
	}
	return nil
}
