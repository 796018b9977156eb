//go:build linux

package main

import (
	"errors"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

func init() { attacks["tiocsti"] = tiocsti }

// tiocsti pushes a byte into the input of the probe's controlling
// terminal (descriptor 0) with ioctl(TIOCSTI), as if typed there: on a
// terminal shared with a shell, the way to make that shell run a command.
// The attack needs stdin to be its controlling terminal (TIOCGSID there
// equals its session), checked first, so that an EPERM cannot be the
// kernel's "not your terminal".
func tiocsti(args []string) result {
	sid, err := unix.IoctlGetInt(0, unix.TIOCGSID)
	if err != nil {
		return fail(err, "stdin is not the probe's controlling terminal (TIOCGSID)")
	}
	if mine, _ := unix.Getsid(0); sid != mine {
		return fail(errors.New("not the probe's session"), "stdin's terminal")
	}
	c := byte(' ')
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, 0, unix.TIOCSTI, uintptr(unsafe.Pointer(&c))); e != 0 {
		return fail(e, "ioctl(0, TIOCSTI)")
	}
	name, _ := os.Readlink("/proc/self/fd/0")
	return success("a byte was pushed into the input of " + name)
}
