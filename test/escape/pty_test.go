//go:build linux

package escape

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// attackOnPTY is attack with the probe on a pseudo-terminal of its own
// (mcp-process run --pty: the child leads a session whose controlling
// terminal is that pty).
func (e *testEnv) attackOnPTY(t *testing.T, cfg map[string]any, exe string, args ...string) result {
	t.Helper()
	path := e.writeConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := e.serverCmd(ctx, "validate", "--config", path).CombinedOutput(); err != nil {
		t.Fatalf("mcp-process validate refused the config (%v):\n%s", err, out)
	}
	cmd := e.serverCmd(ctx, append([]string{"run", "--pty", "--config", path, "--", exe}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcp-process run --pty (%s) -- %s %q: %v\nstdout: %s\nstderr: %s", serverName(), exe, args, err, stdout.String(), stderr.String())
	}
	return parseResult(t, stdout.Bytes(), stderr.String())
}

// TIOCSTI pushes bytes into a terminal's input as if typed: a child on a
// pseudo-terminal (pty: true) could type into whatever reads that
// terminal. Every seccomp program, the baseline without a profile
// included, refuses ioctl(TIOCSTI) (and TIOCLINUX) with EPERM. The probe
// first checks that its stdin is its controlling terminal (so a pty
// session works in each configuration, the jail included, and the EPERM
// is not the kernel's "not your terminal"). The baseline: the same probe
// run directly as the children's uid with a pty of its own as its
// controlling terminal, where TIOCSTI works (or, where the host disabled
// legacy TIOCSTI, fails with EIO).
func TestEscape_TIOCSTIOnPTY_seccomp(t *testing.T) {
	eitherServer(t)
	cases := []struct {
		name string
		cfg  func(e *testEnv) map[string]any
		exe  string
	}{
		{"baseline", func(e *testEnv) map[string]any { return e.config() }, probeBin},
		{"strict", func(e *testEnv) map[string]any { return e.config(strict) }, probeBin},
		{"jail with user, pid, mount and ipc namespaces", func(e *testEnv) map[string]any {
			return e.jailConfig(jail(t), layer{"enableNamespaces": true, "namespaces": map[string]any{"user": true, "pid": true, "mount": true, "ipc": true}})
		}, "/probe"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.attackOnPTY(t, tc.cfg(e), tc.exe, "tiocsti")
			stopped(t, r, "EPERM", "seccomp ("+tc.name+")")
		})
	}
	master, slave, err := sandbox.OpenTerminal(80, 24)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	cmd := asChildUser(probe("tiocsti"))
	cmd.Stdin = slave
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	b := direct(t, cmd)
	slave.Close()
	if legacy, _ := os.ReadFile("/proc/sys/dev/tty/legacy_tiocsti"); bytes.Equal(bytes.TrimSpace(legacy), []byte("0")) {
		otherErrno(t, b, "EPERM", "seccomp (the probe run directly on its own terminal; legacy TIOCSTI is off on this host)")
		return
	}
	escaped(t, b, "seccomp (the probe run directly as the children's uid, on its own terminal)")
}
