//go:build linux

package sandbox

// The launch API: Start hands a launch to a stage (with its cgroup step,
// cgroups.go) and returns with the target held at the stage's gate.

import (
	"errors"
	"io"
	"os"
	"runtime"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

// Start launches spec with stdio: it hands the launch to a warm init stage
// (or starts one) and returns once the stage has applied every step, with
// the target not yet running, in its cgroup with the launch's limits
// written (see cgroups.go). The caller must then call Release (the target
// runs) or Abort (it never does); in between it can write the launch
// record. An error means nothing runs and nothing is left to clean up.
func (l *Launcher) Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	return l.start(spec, stdio, nil, nil, false)
}

// StartRecorded is Start, calling record with the child's pid before it
// returns: the caller's launch record. A launch through the zygote calls
// it as soon as the child exists, while the child joins its cgroup and
// applies its steps (the record's sync and the launch's setup overlap); a
// stage's launch, once the stage is at its gate. Either way record has returned before StartRecorded does, and
// the target has not run: it runs only at Release. If record fails, the
// child is killed and reaped (it never ran) and record's error is returned
// as is. If record succeeded and the launch then failed, the error is the
// launch's: the caller owes its log the launch's end.
func (l *Launcher) StartRecorded(spec *policy.Spec, stdio Stdio, record func(pid int) error) (*Process, error) {
	return l.start(spec, stdio, nil, record, false)
}

// StartCommitted is StartRecorded for a caller that has nothing left to
// decide between the record and Release (no egress proxy to serve, no
// service cgroup to join): through the zygote, "go" is sent as soon as
// record has returned nil, so the child execs as soon as its steps are
// done instead of waiting at its gate for a round trip through the
// caller; Release then only confirms the exec (or reports the step that
// failed). The target still runs only after the record is on disk, and
// never if a step fails (the child reports instead of reaching its gate).
// A launch that a stage takes waits for Release as StartRecorded's does.
// An Abort of a committed launch kills the child, which may have just
// exec'd: its target is killed with it.
func (l *Launcher) StartCommitted(spec *policy.Spec, stdio Stdio, record func(pid int) error) (*Process, error) {
	return l.start(spec, stdio, nil, record, true)
}

// Support is what the launcher's cgroups enforce for a launch.
func (l *Launcher) Support() Support { return l.cgroups.support() }

// start is Start, calling during (when not nil, for tests) after the
// launch's cgroup step, once the launch has been sent to a stage and while
// the stage applies its steps. The cgroup step (place) runs there too, so
// that the limits are written alongside the stage's steps instead of after.
// An error from during aborts the launch and is returned as is. The cgroup
// of a stage that turns out to have died before it received the launch is
// removed before another stage is taken.
func (l *Launcher) start(spec *policy.Spec, stdio Stdio, during func(*Process) error, record func(int) error, commit bool) (*Process, error) {
	select {
	case <-l.quit:
		return nil, errClosed()
	default:
	}
	if l.iso.err != nil {
		return nil, l.iso.err
	}
	exe, cfg, err := openChecked(spec, l.iso)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	if err := checkTerminal(stdio, cfg, l.iso); err != nil {
		return nil, err
	}
	files, devnull, err := launchFiles(exe, stdio)
	if err != nil {
		return nil, err
	}
	if devnull != nil {
		defer devnull.Close()
	}
	if l.zygoteEligible(stdio, cfg) { // no Go runtime per launch: zygote_linux.go
		if p, err := l.startForked(spec, cfg, files, during, record, commit); err != errFallback {
			return p, err
		}
		// The zygote did not plan it: the stage gets no cgroup files (it
		// refuses a config that announces any; its group is placed here).
		stage.SetGroups(cfg, 0)
	}
	p, err := l.startStaged(spec, cfg, files, during)
	if err != nil || record == nil {
		return p, err
	}
	if err := record(p.Pid); err != nil {
		p.Abort() // at its gate: the target never ran
		return nil, err
	}
	return p, nil
}

// checkTerminal refuses a pty launch without the seccomp baseline and marks
// the launch's config for a terminal.
func checkTerminal(stdio Stdio, cfg []byte, iso *Isolation) error {
	if !stdio.Terminal {
		return nil
	}
	if iso.Seccomp == nil {
		// Fail closed: only the seccomp baseline keeps a child from
		// typing into its terminal (TIOCSTI).
		return errcode.Fail(errcode.LayerUnavailable, layers.PTY, "start without pty: this host has no seccomp filters",
			"a pseudo-terminal needs the seccomp baseline, which refuses TIOCSTI and TIOCLINUX")
	}
	if !stage.AddFlags(cfg, stage.FlagTerminal) {
		return errcode.Fail(errcode.Internal, layer, "", "cannot mark the launch's config for a terminal")
	}
	return nil
}

// launchFiles is what a launch sends its stage or the zygote, indexed as
// stage.SentExe, SentStdin, SentStdout, SentStderr: a nil stream is
// /dev/null (devnull, for the caller to close).
func launchFiles(exe *os.File, stdio Stdio) (files []*os.File, devnull *os.File, err error) {
	if stdio.Stdin == nil || stdio.Stdout == nil || stdio.Stderr == nil {
		if devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return nil, nil, errcode.Fail(errcode.Internal, layer, "", "open %s: %v", os.DevNull, err)
		}
	}
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return devnull
		}
		return f
	}
	return []*os.File{exe, orNull(stdio.Stdin), orNull(stdio.Stdout), orNull(stdio.Stderr)}, devnull, nil
}

// startStaged is start through a Go init stage: a warm one from the pool,
// or a cold one.
func (l *Launcher) startStaged(spec *policy.Spec, cfg []byte, files []*os.File, during func(*Process) error) (*Process, error) {
	coldRetry := true // one more try when a new stage dies before it receives the launch
	for {
		s, pooled, err := l.take()
		if err != nil {
			return nil, err
		}
		p := &Process{Pid: s.proc.Pid, proc: s.proc, done: make(chan struct{}), path: spec.Path, dir: spec.Dir,
			limits: spec.Limits, sock: s.sock, launcher: l, keeps: s.keeps}
		placed := false
		err = p.handshake(cfg, files, func() (err error) {
			placed = true // place owns s.group from here (and drops it on error)
			if p.group, err = l.cgroups.place(p.Pid, s.group, spec.Limits); err != nil || during == nil {
				return err
			}
			return during(p)
		})
		if err != nil {
			// The stage is gone and reaped: its cgroup goes with it.
			if placed {
				dropGroup(p.group)
			} else {
				dropGroup(s.group)
			}
		}
		if err == errStale && (pooled || coldRetry) {
			// A warm stage that died while idle, or (once) a new stage
			// that died before it received anything: take another.
			coldRetry = coldRetry && pooled
			l.wantRefill()
			continue
		}
		if err != nil {
			l.wantRefill()
			if err == errStale {
				err = errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
			}
			return nil, err
		}
		return p, nil
	}
}

// stageTimeout bounds each wait for the stage (ready, exec): a stage that
// hangs is killed and the launch fails instead of blocking the caller.
const stageTimeout = 30 * time.Second

// errStale is a stage that was gone before it received the launch.
var errStale = errors.New("init stage gone")

// handshake sends the config and the descriptors, runs during while the
// stage applies its steps, and waits until every step before the gate
// succeeded. On failure the stage is gone and reaped; errStale means it was
// gone before it received anything.
func (p *Process) handshake(cfg []byte, files []*os.File, during func() error) error {
	p.sock.SetDeadline(time.Now().Add(stageTimeout))
	werr := sendConfig(p.sock, cfg, files)
	if errors.Is(werr, unix.EPIPE) || errors.Is(werr, unix.ECONNRESET) {
		p.closeGate()
		p.kill()
		return errStale
	}
	if werr == nil {
		if derr := during(); derr != nil {
			p.Abort()
			return derr
		}
	}
	var kind byte
	var serr *stage.StepError
	var err error
	if !p.keeps.known { // a stage started for this launch: its first message
		err = p.keeps.read(p.sock)
	}
	if err == nil && werr == nil && p.launcher.iso.Network == config.NetworkProxy {
		kind, serr, p.egress, err = readNet(p.sock)
	}
	if err == nil && (kind == 0 || kind == stage.MsgNet) {
		kind, serr, err = readReport(p.sock)
	}
	if werr == nil && err == nil && kind == stage.MsgReady {
		p.sock.SetDeadline(time.Time{})
		p.watchKeeper()
		return nil
	}
	if serr != nil {
		p.closeGate()
		p.Wait() // the stage exits 127 by itself after reporting
		return p.stepError(serr)
	}
	p.Abort()
	if werr == nil && errors.Is(err, unix.ECONNRESET) {
		// The stage's socket closed with the launch still unread in it:
		// the stage died before it received the launch (a warm stage
		// killed while it was being taken). Nothing ran.
		return errStale
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(werr, os.ErrDeadlineExceeded):
		return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not get ready within %s", p.path, stageTimeout)
	}
	return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
}

// sendConfig writes cfg to the stage's socket, its first bytes carrying
// files (SCM_RIGHTS).
func sendConfig(sock *os.File, cfg []byte, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	oob := unix.UnixRights(fds...)
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = unix.SendmsgN(int(fd), cfg, oob, nil, unix.MSG_NOSIGNAL)
		return serr != unix.EAGAIN
	})
	runtime.KeepAlive(files)
	if err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if n < len(cfg) {
		_, err = sock.Write(cfg[n:])
	}
	return err
}

// readReport reads one report of the stage: MsgReady, MsgExec or
// MsgError (with its StepError); io.EOF once its socket closed.
func readReport(r io.Reader) (byte, *stage.StepError, error) {
	var kind [1]byte
	if _, err := io.ReadFull(r, kind[:]); err != nil {
		return 0, nil, err
	}
	if kind[0] != stage.MsgError {
		return kind[0], nil, nil
	}
	var size [2]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, stage.ErrorSize(size))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	se, err := stage.DecodeError(body)
	if err != nil {
		return 0, nil, err
	}
	return stage.MsgError, se, nil
}
