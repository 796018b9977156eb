//go:build unix

package supervisor

import (
	"os"

	"golang.org/x/sys/unix"
)

// readOutput reads f until end of file or an error (a terminal master's
// EIO, f closed by the drain after an exit) into r, calling onData after
// each chunk; r nil: the bytes are discarded (and onData not called). f
// waits for data in the runtime's poller without a buffer: when r has room
// to write in place, the bytes are read straight into it (ring.fill);
// otherwise a buffer is taken from outputBufs for the read and given back
// once the bytes are in r.
func readOutput(f *os.File, r *ring, onData func()) {
	rc, err := f.SyscallConn()
	if err != nil {
		readOutputPlain(f, r, onData)
		return
	}
	// In place only from a non-blocking descriptor: fill holds the ring's
	// lock across the read, which must not wait for the child.
	direct := r != nil
	if err := rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		direct = direct && err == nil && fl&unix.O_NONBLOCK != 0
	}); err != nil {
		return // closed already
	}
	for {
		var (
			n      int
			rerr   error
			bp     *[]byte
			filled bool
		)
		err := rc.Read(func(fd uintptr) bool {
			read := func(b []byte) (int, error) {
				for {
					n, err := unix.Read(int(fd), b)
					if err != unix.EINTR {
						return n, err
					}
				}
			}
			if direct {
				if n, rerr, filled = r.fill(read); filled {
					return rerr != unix.EAGAIN // EAGAIN: wait in the poller
				}
			}
			bp = outputBufs.Get().(*[]byte)
			n, rerr = read(*bp)
			if rerr == unix.EAGAIN {
				outputBufs.Put(bp)
				bp = nil
				return false // wait in the poller, holding no buffer
			}
			return true
		})
		got := err == nil && rerr == nil && n > 0
		if got && !filled && r != nil {
			r.write((*bp)[:n])
		}
		if bp != nil {
			outputBufs.Put(bp)
		}
		if !got {
			return
		}
		if r != nil {
			onData()
		}
	}
}
