package supervisor

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// A process started with pty runs on a pseudo-terminal of its own (SPEC
// 7.4). The server holds the master (two descriptors, both close-on-exec:
// one read by the output goroutine into the stdout ring, one written by
// process_send_stdin and used for resizes); the child gets the slave as
// 0, 1, 2 and as its controlling terminal, in a session of its own, so it
// never reaches the server's terminal. Both master descriptors are closed
// once the process has exited and its output is drained (watch), so
// nothing of the terminal outlives the process.

// terminal is the pseudo-terminal state of a process.
type terminal struct {
	mu         sync.Mutex
	cols, rows int
}

func (t *terminal) size() *TerminalSize {
	t.mu.Lock()
	defer t.mu.Unlock()
	return &TerminalSize{Cols: t.cols, Rows: t.rows}
}

// checkTerminalOptions refuses the terminal options that cannot apply:
// no key is accepted and ignored.
func checkTerminalOptions(o *StartOptions) *errcode.Error {
	if !o.PTY {
		if o.Cols != 0 || o.Rows != 0 {
			return errcode.Fail(errcode.InvalidInput, layer.PTY, "set pty to true, or leave cols and rows out",
				"cols and rows size a pseudo-terminal: they need pty true")
		}
		return nil
	}
	if o.Stdin == StdinNull {
		return errcode.Fail(errcode.InvalidInput, layer.PTY, `leave stdin out (or "pipe") with pty true`,
			`stdin "null" cannot apply to a pseudo-terminal: the terminal is the process's stdin`)
	}
	if err := checkSize(o.Cols, o.Rows, true); err != nil {
		return err
	}
	if o.Cols == 0 {
		o.Cols = DefaultCols
	}
	if o.Rows == 0 {
		o.Rows = DefaultRows
	}
	return nil
}

// checkSize checks a terminal size; 0 means unset (allowed when
// unsetOK).
func checkSize(cols, rows int, unsetOK bool) *errcode.Error {
	for _, v := range []struct {
		key string
		n   int
	}{{"cols", cols}, {"rows", rows}} {
		if v.n < 0 || v.n > MaxTerminalSide || (v.n == 0 && !unsetOK) {
			return errcode.Fail(errcode.InvalidInput, layer.PTY, fmt.Sprintf("use 1 to %d", MaxTerminalSide),
				"%s %d is not a terminal size", v.key, v.n)
		}
	}
	return nil
}

// makeTerminal opens a pseudo-terminal of o's size as a launch's stdio:
// the parent's ends are the master's writer (stdin) and reader (stdout),
// the child's the slave three times.
func makeTerminal(o StartOptions) (*pipes, *terminal, error) {
	master, slave, err := sandbox.OpenTerminal(o.Cols, o.Rows)
	if err != nil {
		return nil, nil, err
	}
	// A second descriptor of the master for writes and resizes, so that
	// the reader closing its own at EOF never races a writer.
	rc, err := master.SyscallConn()
	var wfd int
	var derr error
	if err == nil {
		err = rc.Control(func(fd uintptr) { wfd, derr = dupCloexec(int(fd)) })
	}
	if err == nil {
		err = derr
	}
	if err != nil {
		master.Close()
		slave.Close()
		return nil, nil, errcode.Fail(errcode.Internal, layer.PTY, "", "duplicate the terminal's master: %v", err)
	}
	w := os.NewFile(uintptr(wfd), "/dev/ptmx") // non-blocking like the master: in the poller
	ps := &pipes{parent: []*os.File{w, master, nil}, child: []*os.File{slave, nil, nil}}
	return ps, &terminal{cols: o.Cols, rows: o.Rows}, nil
}

// IsTerminal reports whether agent's process pid runs on a
// pseudo-terminal (false when there is no such process).
func (s *Supervisor) IsTerminal(agent string, pid int) bool {
	p, err := s.lookup(agent, pid)
	return err == nil && p.tty != nil
}

// Resize sets the pseudo-terminal size of agent's process pid (0 keeps
// that side); the kernel sends SIGWINCH to the terminal's foreground
// process group. It is a stdin operation: allowStdinInput must be on.
// caller labels the audit record (an MCP tool).
func (s *Supervisor) Resize(agent string, pid, cols, rows int, caller string) (*TerminalSize, error) {
	if !s.cfg.AllowStdinInput {
		return nil, errcode.Deny(errcode.StdinNotAllowed, layer.IO, "stdin input is off in the policy (allowStdinInput)",
			"resizing a terminal is terminal input, which is not allowed")
	}
	if err := checkSize(cols, rows, true); err != nil {
		return nil, err
	}
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	if p.tty == nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer.PTY, "start the process with pty true to give it a terminal",
			"process %d has no terminal to resize", pid)
	}
	if p.isExited() {
		return nil, errcode.Fail(errcode.InvalidInput, layer.PTY, "", "process %d has exited", pid)
	}
	p.tty.mu.Lock()
	if cols == 0 {
		cols = p.tty.cols
	}
	if rows == 0 {
		rows = p.tty.rows
	}
	p.tty.mu.Unlock()
	p.stdinMu.Lock()
	f := p.stdin
	if f == nil {
		p.stdinMu.Unlock()
		return nil, errcode.Fail(errcode.InvalidInput, layer.PTY, "", "process %d's terminal is closed", pid)
	}
	rerr := sandbox.SetTerminalSize(f, cols, rows)
	p.stdinMu.Unlock()
	if rerr != nil {
		return nil, errcode.Fail(errcode.Internal, layer.PTY, "", "resize process %d's terminal: %v", pid, rerr)
	}
	p.tty.mu.Lock()
	p.tty.cols, p.tty.rows = cols, rows
	p.tty.mu.Unlock()
	if err := s.record(audit.Record{Event: audit.EventStdin, Agent: agent, Tool: caller, PID: pid,
		Reason: fmt.Sprintf("terminal resized to %dx%d", cols, rows)}); err != nil {
		return nil, auditFailed(err)
	}
	return &TerminalSize{Cols: cols, Rows: rows}, nil
}

// sendEOF is closeStdin on a terminal: a terminal has no end of input to
// close, so it types the terminal's end-of-file character (VEOF, Ctrl-D
// unless the program changed it). In canonical mode a program reading at
// the start of a line reads end of file; the terminal stays open, so
// input can follow. It returns the bytes written (0 or 1).
func (p *proc) sendEOF(deadline time.Time) (int, error) {
	p.stdinMu.Lock()
	f := p.stdin
	var c byte
	var ok bool
	var err error
	if f != nil {
		c, ok, err = sandbox.TerminalEOF(f)
	}
	p.stdinMu.Unlock()
	if f == nil {
		return 0, errcode.Fail(errcode.InvalidInput, layer.IO, "", "process %d's terminal is closed", p.pid)
	}
	if err != nil {
		return 0, errcode.Fail(errcode.Internal, layer.IO, "", "read process %d's terminal settings: %v", p.pid, err)
	}
	if !ok {
		return 0, errcode.Fail(errcode.InvalidInput, layer.IO, "send the program's own quit input instead",
			"process %d's terminal has no end-of-file character (the program disabled VEOF)", p.pid)
	}
	return p.writeStdin([]byte{c}, deadline, nil)
}
