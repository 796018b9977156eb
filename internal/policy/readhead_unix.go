//go:build unix

package policy

import (
	"io/fs"
	"syscall"
)

// readHead reads the first len(buf) bytes of file (fewer if it is shorter)
// with plain open (openResolved), read and close: no os.File, no poller
// registration. Its errors are those of os.Open and os.File.Read.
func readHead(file string, buf []byte) (int, error) {
	fd, err := openResolved(file)
	if err != nil {
		return 0, err
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

// readAll passes the content of file (opened by openResolved) to w.
func readAll(file string, w func([]byte)) error {
	fd, err := openResolved(file)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	var buf [32 << 10]byte
	for {
		m, err := syscall.Read(fd, buf[:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return &fs.PathError{Op: "read", Path: file, Err: err}
		case m == 0:
			return nil
		}
		w(buf[:m])
	}
}

// readFlags open a file the policy reads to check it: never blocking (a
// FIFO swapped in since the file was resolved opens at once and reads
// nothing or EAGAIN) and never taking a terminal as the server's
// controlling terminal.
const readFlags = syscall.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC
