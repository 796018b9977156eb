package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// ptyProbe reports what a program on a terminal sees, then echoes its
// input lines until end of file, and reports each resize (SIGWINCH).
const ptyProbe = `
import os, sys, signal
print("tty", os.isatty(0), os.isatty(1), os.isatty(2), flush=True)
sz = os.get_terminal_size(0)
print("size %dx%d" % (sz.columns, sz.lines), flush=True)
print("leader", os.getsid(0) == os.getpid(), "foreground", os.tcgetpgrp(0) == os.getpgrp(), flush=True)
fd = os.open("/dev/tty", os.O_RDWR)
os.write(fd, b"via /dev/tty\n")
os.close(fd)
def winch(*_):
    sz = os.get_terminal_size(0)
    print("winch %dx%d" % (sz.columns, sz.lines), flush=True)
signal.signal(signal.SIGWINCH, winch)
print("ready", flush=True)
for line in sys.stdin:
    print("got", line.strip(), flush=True)
print("eof", file=sys.stderr, flush=True)
`

// ptmxOpen counts this process's descriptors of a terminal master.
func ptmxOpen(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, _ := os.Readlink(filepath.Join("/proc/self/fd", e.Name())); l == "/dev/ptmx" || strings.HasPrefix(l, "/dev/pts/") {
			n++
		}
	}
	return n
}

func TestPTYSession(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	before := ptmxOpen(t)
	o := capture()
	o.PTY, o.Cols, o.Rows = true, 100, 30
	st := start(t, s, agentA, python(t, ptyProbe), o)
	if !st.Pty || st.Terminal == nil || *st.Terminal != (TerminalSize{100, 30}) {
		t.Fatalf("status pty %v terminal %+v", st.Pty, st.Terminal)
	}
	if !s.IsTerminal(agentA, st.Pid) {
		t.Fatal("IsTerminal false")
	}
	seen := func(want string) {
		t.Helper()
		eventually(t, "output "+want, func() bool {
			out, _ := output(t, s, agentA, st.Pid)
			return strings.Contains(out, want)
		})
	}
	seen("ready")
	out, errOut := output(t, s, agentA, st.Pid)
	for _, want := range []string{"tty True True True\r\n", "size 100x30\r\n", "leader True foreground True\r\n", "via /dev/tty\r\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr on a terminal: %q", errOut)
	}
	ts, err := s.Resize(agentA, st.Pid, 120, 0, "process_send_stdin")
	if err != nil || *ts != (TerminalSize{120, 30}) {
		t.Fatalf("Resize: %+v, %v", ts, err)
	}
	seen("winch 120x30")
	if got := s.statusOf(t, st.Pid).Terminal; *got != (TerminalSize{120, 30}) {
		t.Errorf("status terminal after resize %+v", got)
	}
	if _, err := s.SendStdin(agentA, st.Pid, []byte("hello\n"), false, "test"); err != nil {
		t.Fatal(err)
	}
	seen("hello\r\n") // the terminal's echo
	seen("got hello")
	// closeStdin types the terminal's EOF character: the program reads
	// end of file and the terminal stays usable for its last words.
	if _, err := s.SendStdin(agentA, st.Pid, nil, true, "test"); err != nil {
		t.Fatal(err)
	}
	seen("eof")
	end := waitExit(t, s, agentA, st.Pid)
	if end.ExitCode == nil || *end.ExitCode != 0 || !end.Pty {
		t.Fatalf("exit %+v", end)
	}
	res, err := s.Output(agentA, st.Pid, OutputQuery{})
	if err != nil || !res.Pty || res.StderrBytes != 0 {
		t.Fatalf("output %+v, %v", res, err)
	}
	if n := ptmxOpen(t); n != before {
		t.Errorf("%d terminal descriptors open after the exit, %d before", n, before)
	}
	if rs := fa.events("stdin", st.Pid); len(rs) < 3 || !strings.Contains(rs[0].Reason, "resized to 120x30") {
		t.Errorf("stdin records %+v", rs)
	}
	// An exited process has no terminal left to resize.
	_, err = s.Resize(agentA, st.Pid, 90, 20, "process_send_stdin")
	wantCode(t, err, errcode.InvalidInput)
}

func (s *Supervisor) statusOf(t *testing.T, pid int) *Status {
	t.Helper()
	st, err := s.Status(agentA, pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestPTYRefusals(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	for name, o := range map[string]StartOptions{
		"size without pty": {Cols: 80},
		"stdin null":       {PTY: true, Stdin: StdinNull},
		"too wide":         {PTY: true, Cols: MaxTerminalSide + 1},
		"negative":         {PTY: true, Rows: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.Start(agentA, specFor(t, "true"), o)
			wantCode(t, err, errcode.InvalidInput)
		})
	}
	// Resizing a process without a terminal.
	st := start(t, s, agentA, specFor(t, "sleep", "30"), capture())
	_, err := s.Resize(agentA, st.Pid, 80, 24, "process_send_stdin")
	wantCode(t, err, errcode.InvalidInput)
	// Without capture the terminal is still drained: a chatty program is
	// not blocked by a full terminal and exits.
	o := StartOptions{PTY: true}
	st = start(t, s, agentA, python(t, "import sys\nfor _ in range(2000): print('x' * 100)"), o)
	if end := waitExit(t, s, agentA, st.Pid); end.ExitCode == nil || *end.ExitCode != 0 {
		t.Fatalf("exit %+v", end)
	}
	_, err = s.Output(agentA, st.Pid, OutputQuery{})
	wantCode(t, err, errcode.OutputCaptureDisabled)
	// Without allowStdinInput a terminal cannot be resized either.
	cfg := baseConfig()
	cfg.AllowStdinInput = false
	s2, _ := newSup(t, cfg)
	o = capture()
	o.PTY = true
	st = start(t, s2, agentA, specFor(t, "sleep", "30"), o)
	_, err = s2.Resize(agentA, st.Pid, 80, 24, "process_send_stdin")
	wantCode(t, err, errcode.StdinNotAllowed)
}
