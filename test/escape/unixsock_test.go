//go:build linux

package escape

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// SPEC 7.1a: every child runs under the seccomp baseline, which refuses
// socket(AF_UNIX) unless allowUnixSockets is true. A pathname socket the
// child can reach (here one in its own working directory, mode 0777, so
// that the children's uid, 65534 under a root server, may connect) would otherwise be a way out: the D-Bus
// session bus (systemd --user runs anything asked), docker.sock,
// ssh-agent. Landlock's scope covers abstract sockets only.

// unixListener listens on a pathname socket in the env's working
// directory and reports each connection it accepts.
func unixListener(t *testing.T, e *testEnv) (path string, got <-chan string) {
	t.Helper()
	path = filepath.Join(e.work, "service.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			select {
			case lines <- "accepted":
			default:
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return path, lines
}

func TestEscape_UnixSocketConnect_seccompBaseline(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	path, got := unixListener(t, e)
	r := e.attack(t, e.config(), probeBin, "unix-connect", path)
	stopped(t, r, "EPERM", "seccomp baseline (socket(AF_UNIX) refused)")
	select {
	case <-got:
		t.Fatal("the listener accepted a connection from the refused child")
	default:
	}
	b := e.attack(t, e.config(layer{"allowUnixSockets": true}), probeBin, "unix-connect", path)
	escaped(t, b, "the AF_UNIX rule (allowUnixSockets: true)")
	select {
	case <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("the baseline connected but the listener accepted nothing")
	}
}

// A profile keeps the AF_UNIX rule: the profile and the baseline are one
// program.
func TestEscape_UnixSocketConnect_seccompBaselineWithProfile(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	path, _ := unixListener(t, e)
	for _, p := range []layer{permissve, moderate, strict} {
		r := e.attack(t, e.config(p), probeBin, "unix-connect", path)
		stopped(t, r, "EPERM", "seccomp baseline in one program with "+p["seccompProfile"].(string))
		b := e.attack(t, e.config(p, layer{"allowUnixSockets": true}), probeBin, "unix-connect", path)
		escaped(t, b, "the AF_UNIX rule ("+p["seccompProfile"].(string)+" with allowUnixSockets: true)")
	}
}

// io_uring creates and connects sockets (IORING_OP_SOCKET, _CONNECT)
// without a system call seccomp sees: the baseline refuses io_uring_setup
// in every child. No configuration turns the baseline off, so the
// baseline of this test is the probe run directly as the same uid.
func TestEscape_IoUring_seccompBaseline(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	for _, cfg := range []map[string]any{e.config(), e.config(layer{"allowUnixSockets": true})} {
		r := e.attack(t, cfg, probeBin, "io-uring")
		stopped(t, r, "EPERM", "seccomp baseline (io_uring_setup refused)")
	}
	escaped(t, direct(t, asChildUser(probe("io-uring"))), "the seccomp baseline (the probe run directly as the children's uid)")
}
