package supervisor

import (
	"os"

	"golang.org/x/sys/unix"
)

// stdioPipe makes one pipe of a launch's stdio. ours (the server's end: it
// writes the child's stdin or reads its output) is non-blocking and in the
// runtime's poller, as os.Pipe's ends are; theirs (the child's end) is
// blocking, as the child gets it, and never in the poller: it is only
// passed to the child and closed. os.Pipe registered both ends with epoll
// and made both non-blocking, so that passing the child's end (File.Fd)
// made it blocking again and closing it removed it from epoll: six system
// calls per end for nothing. oursReads: ours is the read end (output).
func stdioPipe(oursReads bool) (ours, theirs *os.File, err error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, os.NewSyscallError("pipe2", err)
	}
	o, t, on, tn := p[1], p[0], "|1", "|0"
	if oursReads {
		o, t, on, tn = p[0], p[1], "|0", "|1"
	}
	// A new pipe's file status flags are 0 (pipe2 was given only
	// O_CLOEXEC, a descriptor flag): set O_NONBLOCK alone, one fcntl.
	if _, err := unix.FcntlInt(uintptr(o), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		unix.Close(o)
		unix.Close(t)
		return nil, nil, os.NewSyscallError("fcntl", err)
	}
	// NewFile puts a non-blocking descriptor in the poller and leaves a
	// blocking one out of it (and blocking).
	return os.NewFile(uintptr(o), on), os.NewFile(uintptr(t), tn), nil
}
