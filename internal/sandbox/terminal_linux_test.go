//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A child on a terminal: the slave is its 0, 1, 2 and its controlling
// terminal (it leads its session, its group is in the foreground), it
// sees the size the master set, and the master reads EIO once the child
// is gone.
func TestTerminalLaunch(t *testing.T) {
	iso, err := IsolationFor(&config.Config{})
	if err != nil {
		t.Fatal(err)
	}
	l := NewLauncher(LauncherOptions{PoolSize: -1, Isolation: iso})
	defer l.Close()
	master, slave, err := OpenTerminal(91, 17)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	p, err := l.Start(py(t, `import os
sz = os.get_terminal_size(0)
print(os.isatty(0), os.isatty(1), os.isatty(2), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(), sz.columns, sz.lines)`),
		Stdio{Stdin: slave, Stdout: slave, Stderr: slave, Terminal: true})
	slave.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	out, rerr := io.ReadAll(master)
	if !errors.Is(rerr, syscall.EIO) {
		t.Errorf("master read after the child: %v, want EIO", rerr)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("child %s: %q", st, out)
	}
	if got := strings.TrimSpace(string(out)); got != "True True True True True 91 17" {
		t.Fatalf("the child on its terminal saw %q", got)
	}
}

// Without the seccomp baseline (which refuses TIOCSTI) a terminal launch
// is refused: nothing runs.
func TestTerminalNeedsSeccomp(t *testing.T) {
	l := NewLauncher(LauncherOptions{PoolSize: -1})
	defer l.Close()
	master, slave, err := OpenTerminal(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	_, err = l.Start(specFor(t, "true"), Stdio{Stdin: slave, Stdout: slave, Stderr: slave, Terminal: true})
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.LayerUnavailable {
		t.Fatalf("terminal launch without seccomp: %v, want LAYER_UNAVAILABLE", err)
	}
	// The master is close-on-exec: no child inherits it.
	if fl, err := fcntlFlags(master); err != nil || fl&syscall.FD_CLOEXEC == 0 {
		t.Errorf("master flags %#x, %v: want FD_CLOEXEC", fl, err)
	}
}

func fcntlFlags(f *os.File) (int, error) {
	var fl int
	err := withFD(f, func(fd int) error {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0)
		if e != 0 {
			return e
		}
		fl = int(r)
		return nil
	})
	return fl, err
}
