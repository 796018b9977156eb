//go:build linux

package sandbox

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
)

// OpenTerminal opens a new pseudo-terminal of cols columns and rows rows
// for one launch (SPEC 7.4). The master is the caller's: close-on-exec,
// non-blocking and in the runtime's poller (deadlines work), never
// inherited by any child. The slave comes from the master itself
// (TIOCGPTPEER), not from a path, so it reaches a child whatever its view
// of /dev (a jail, a private mount namespace); pass it as all three of
// Stdio with Terminal set, then close it. The terminal starts in the
// kernel's default mode (canonical input, echo, output \n as \r\n).
func OpenTerminal(cols, rows int) (master, slave *os.File, err error) {
	fail := func(what string, err error) (*os.File, *os.File, error) {
		if master != nil {
			master.Close()
		}
		return nil, nil, errcode.Fail(errcode.LayerUnavailable, layers.PTY,
			"check that the server sees /dev/ptmx and a devpts mount, or start without pty", "pseudo-terminal: %s: %v", what, err)
	}
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fail("open /dev/ptmx", err)
	}
	master = os.NewFile(uintptr(fd), "/dev/ptmx") // non-blocking: in the poller
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		return fail("unlock (TIOCSPTLCK)", err)
	}
	if err := SetTerminalSize(master, cols, rows); err != nil {
		return fail("set its size", err)
	}
	n, _ := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	sfd, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TIOCGPTPEER, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if errno != 0 {
		return fail("open its slave (TIOCGPTPEER)", errno)
	}
	return master, os.NewFile(sfd, "/dev/pts/"+strconv.Itoa(n)), nil
}

// withFD runs fn on f's descriptor without taking it out of the poller
// (f.Fd would make it blocking).
func withFD(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

// SetTerminalSize sets the terminal's size through its master; the kernel
// sends SIGWINCH to the terminal's foreground process group when it
// changes.
func SetTerminalSize(master *os.File, cols, rows int) error {
	return withFD(master, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
	})
}

// TerminalSize reads the terminal's size through its master.
func TerminalSize(master *os.File) (cols, rows int, err error) {
	err = withFD(master, func(fd int) error {
		ws, err := unix.IoctlGetWinsize(fd, unix.TIOCGWINSZ)
		if err == nil {
			cols, rows = int(ws.Col), int(ws.Row)
		}
		return err
	})
	return cols, rows, err
}

// TerminalEOF returns the terminal's end-of-file character (VEOF, Ctrl-D
// unless the program changed it), and false when the program disabled it.
func TerminalEOF(master *os.File) (byte, bool, error) {
	var c byte
	err := withFD(master, func(fd int) error {
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err == nil {
			c = t.Cc[unix.VEOF]
		}
		return err
	})
	return c, err == nil && c != 0, err
}
