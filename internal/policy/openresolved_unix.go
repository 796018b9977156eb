//go:build unix && !linux

package policy

import (
	"io/fs"
	"syscall"
)

// openResolved opens file, a real path the policy has just resolved, to
// read it, refusing a symbolic link as its last component (swapped in
// since the resolution). See readFlags for the rest.
func openResolved(file string) (int, error) {
	for {
		fd, err := syscall.Open(file, readFlags|syscall.O_NOFOLLOW, 0)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, &fs.PathError{Op: "open", Path: file, Err: err}
		}
		return fd, nil
	}
}
