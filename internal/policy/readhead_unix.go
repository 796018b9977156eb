//go:build unix

package policy

import (
	"io/fs"
	"syscall"
)

// readHead reads the first len(buf) bytes of file (fewer if it is shorter)
// with plain open, read and close: no os.File, no poller registration. Its
// errors are those of os.Open and os.File.Read.
func readHead(file string, buf []byte) (int, error) {
	var fd int
	var err error
	for {
		fd, err = syscall.Open(file, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return 0, &fs.PathError{Op: "open", Path: file, Err: err}
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, &fs.PathError{Op: "read", Path: file, Err: err}
		case m == 0:
			return n, nil
		}
		n += m
	}
	return n, nil
}
