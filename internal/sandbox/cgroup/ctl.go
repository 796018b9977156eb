//go:build linux

package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
)

// layer is the errcode layer of every error this package returns.
const layer = layers.ResourceLimits

// fsOps are the three mutating file-system operations on a cgroupfs. They
// are a field so that tests can run the package against a fake tree of
// regular files (where mkdir does not create control files and a write never
// fails with EBUSY).
type fsOps struct {
	mkdir func(path string) error
	rmdir func(path string) error
	write func(path, data string) error
}

var sysOps = fsOps{mkdir: sysMkdir, rmdir: sysRmdir, write: writeCtl}

func sysMkdir(path string) error {
	for {
		err := unix.Mkdir(path, 0o755)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "mkdir", Path: path, Err: err}
		}
		return nil
	}
}

func sysRmdir(path string) error {
	for {
		err := unix.Rmdir(path)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return &fs.PathError{Op: "rmdir", Path: path, Err: err}
		}
		return nil
	}
}

// writeCtl writes data to an existing control file with one open, one write
// and one close (no O_CREAT, no O_TRUNC: cgroupfs files need neither).
func writeCtl(path, data string) error {
	var fd int
	var err error
	for {
		fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return &fs.PathError{Op: "open", Path: path, Err: err}
	}
	for {
		_, err = unix.Write(fd, []byte(data))
		if err != unix.EINTR {
			break
		}
	}
	unix.Close(fd)
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// readCtl reads a control file with one open, as few reads as it takes
// (readCtlFD) and one close.
func readCtl(path string) ([]byte, error) {
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
	return readCtlFD(fd, path)
}

// readCtlFD reads the whole control file open as fd (named path, for
// errors) from its start, without opening it: pread from 0 regenerates a
// cgroupfs file, whatever was read from it before. A read that does not
// fill the buffer got the whole file (cgroupfs files are generated whole,
// as far as the buffer allows).
func readCtlFD(fd int, path string) ([]byte, error) {
	b := make([]byte, 0, 512)
	for {
		n, err := unix.Pread(fd, b[len(b):cap(b)], int64(len(b)))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		b = b[:len(b)+n]
		if n == 0 || len(b) < cap(b) {
			return b, nil
		}
		b = slices.Grow(b, cap(b))
	}
}

// keyedValue returns the value of "key N" in a flat-keyed file such as
// cpu.stat, memory.events, memory.oom_control or cgroup.events.
func keyedValue(data []byte, key string) (int64, bool) {
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		k, v, ok := bytes.Cut(line, []byte{' '})
		if !ok || string(k) != key {
			continue
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
		if err != nil {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// readInt reads a file holding one integer (or "max", read as -1).
func readInt(path string) (int64, error) {
	b, err := readCtl(path)
	if err != nil {
		return 0, err
	}
	s := string(bytes.TrimSpace(b))
	if s == "max" {
		return -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &fs.PathError{Op: "parse", Path: path, Err: err}
	}
	return n, nil
}

func parsePids(b []byte) []int {
	var pids []int
	for _, f := range bytes.Fields(b) {
		if n, err := strconv.Atoi(string(f)); err == nil {
			pids = append(pids, n)
		}
	}
	return pids
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// unavailable is a LAYER_UNAVAILABLE error that also wraps the underlying
// path error (so errors.Is(err, unix.EBUSY) and errors.As(err, *fs.PathError)
// still work).
func unavailable(cause error, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	e := errcode.Fail(errcode.LayerUnavailable, layer,
		"run the server where the cgroup controllers are writable (cgroup v2 with memory, pids and cpu delegated, e.g. systemd Delegate=yes, or cgroup v1 as root), or drop the limit",
		"%s", msg)
	if cause == nil {
		return e
	}
	return fmt.Errorf("%w%w", e, wrapOnly{cause})
}

// internal is an INTERNAL error that wraps its cause.
func internal(cause error, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if cause != nil {
		msg += ": " + cause.Error()
	}
	e := errcode.Fail(errcode.Internal, layer, "", "%s", msg)
	if cause == nil {
		return e
	}
	return fmt.Errorf("%w%w", e, wrapOnly{cause})
}

// wrapOnly wraps an error for errors.Is/As without adding to the message
// (the errcode message already says it).
type wrapOnly struct{ err error }

func (w wrapOnly) Error() string { return "" }
func (w wrapOnly) Unwrap() error { return w.err }
