package supervisor

import (
	"io/fs"

	"golang.org/x/sys/unix"
)

// readProcFile reads a small /proc file (a process's stat or io) into buf's
// storage, grown when the file is larger: one open, reads until EOF, one
// close. os.ReadFile adds an fstat and, since the runtime's poller cannot
// watch a /proc file, two fcntl to make it non-blocking, a failed
// epoll_ctl and two fcntl to undo it: the stats sampler reads every
// process's stat on the host each second.
func readProcFile(path string, buf []byte) ([]byte, error) {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	b := buf[:0]
	if cap(b) == 0 {
		b = make([]byte, 0, 1024)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := unix.Read(fd, b[len(b):cap(b)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return b, nil
		}
		b = b[:len(b)+n]
	}
}
