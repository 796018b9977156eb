//go:build unix

package supervisor

import (
	"os"

	"golang.org/x/sys/unix"
)

// readChunks reads f until end of file or an error (a terminal master's
// EIO, f closed by the drain after an exit), handing every chunk read to
// fn, which must not keep it. f waits for data in the runtime's poller
// without a buffer; one is taken from outputBufs when the read can be made.
func readChunks(f *os.File, fn func([]byte)) {
	rc, err := f.SyscallConn()
	if err != nil {
		readChunksPlain(f, fn)
		return
	}
	for {
		var (
			n    int
			rerr error
			bp   *[]byte
		)
		err := rc.Read(func(fd uintptr) bool {
			bp = outputBufs.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), *bp)
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				outputBufs.Put(bp)
				bp = nil
				return false // wait in the poller, holding no buffer
			}
			return true
		})
		if err == nil && rerr == nil && n > 0 {
			fn((*bp)[:n])
		}
		if bp != nil {
			outputBufs.Put(bp)
		}
		if err != nil || rerr != nil || n <= 0 {
			return
		}
	}
}
