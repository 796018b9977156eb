//go:build unix

package policy

import (
	"io/fs"
	"syscall"
)

// openNoFollow is open(2) with readFlags and O_NOFOLLOW.
func openNoFollow(file string) (int, error) {
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
