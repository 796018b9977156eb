package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ptyOutput is process_get_output's result with the terminal flag.
type ptyOutput struct {
	outputResult
	Pty bool `json:"pty"`
}

// TestPTYSession drives an interactive python3 on a pseudo-terminal
// through the tools alone, as an agent would (SPEC 7.4): isatty in the
// child, the size it sees, a resize it gets SIGWINCH for and stty reads,
// Ctrl-C, and Ctrl-D (closeStdin) to end it; under the default profile
// and under full isolation (every namespace, read-only filesystem,
// Landlock, strict seccomp).
func TestPTYSession(t *testing.T) {
	for _, exe := range []string{"/usr/bin/python3", "/usr/bin/stty"} {
		if _, err := os.Stat(exe); err != nil {
			t.Skipf("%s not available", exe)
		}
	}
	for _, profile := range []struct {
		name string
		set  map[string]any
	}{
		{"default", nil},
		{"full isolation", map[string]any{
			"enableNamespaces":   true,
			"namespaces":         map[string]any{"user": true, "pid": true, "mount": true, "network": true, "uts": true, "ipc": true},
			"readOnlyFilesystem": true, "landlock": true, "enableSeccomp": true, "seccompProfile": "strict",
		}},
	} {
		t.Run(profile.name, func(t *testing.T) {
			e := newEnv(t)
			if profile.set != nil {
				// readOnlyFilesystem gives the child a private /tmp, which
				// would hide a working directory under it.
				// The state directory (audit log, record of config sources)
				// beside it, not inside: a policy file where the children
				// may write refuses the start (SPEC 7.1a).
				base, err := os.MkdirTemp("/var/lib", "mcp-process-e2e-pty-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(base) })
				work := filepath.Join(base, "work")
				if err := os.Mkdir(work, 0o777); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(base, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(work, 0o777); err != nil {
					t.Fatal(err)
				}
				e.work, e.state = work, filepath.Join(base, "state") // the agent's HOME is in the state directory
			}
			cfg := e.config("/usr/bin/python3", "/usr/bin/stty")
			cfg["blockBinaryStdin"] = true
			for k, v := range profile.set {
				cfg[k] = v
			}
			s := startServer(t, e, cfg)
			ptySession(t, s)
		})
	}
}

func ptySession(t *testing.T, s *mcpServer) {
	var st struct {
		startResult
		Pty      bool `json:"pty"`
		Terminal struct {
			Cols int `json:"cols"`
			Rows int `json:"rows"`
		} `json:"terminal"`
	}
	s.ok("process_start", map[string]any{"executable": "/usr/bin/python3", "args": []string{"-i", "-q"},
		"pty": true, "cols": 100, "rows": 30}, &st)
	if !st.Pty || st.Terminal.Cols != 100 || st.Terminal.Rows != 30 {
		t.Fatalf("process_start result: pty %v terminal %+v", st.Pty, st.Terminal)
	}
	pid := st.Pid
	var next int64
	// seen waits until the terminal showed want since the last match.
	seen := func(want string) string {
		t.Helper()
		var got string
		eventually(t, 20*time.Second, fmt.Sprintf("%q on the terminal", want), func() (bool, string) {
			var out ptyOutput
			s.ok("process_get_output", map[string]any{"pid": pid, "offset": next}, &out)
			if !out.Pty || out.Stderr != "" || out.StderrBytes != 0 {
				t.Fatalf("output of a terminal: pty %v, stderr %q (%d bytes)", out.Pty, out.Stderr, out.StderrBytes)
			}
			if i := strings.Index(out.Stdout, want); i >= 0 {
				got = out.Stdout[:i+len(want)]
				next += int64(len(got))
				return true, ""
			}
			return false, out.Stdout
		})
		return got
	}
	send := func(data string) {
		t.Helper()
		var r struct {
			BytesWritten int `json:"bytesWritten"`
		}
		s.ok("process_send_stdin", map[string]any{"pid": pid, "data": data}, &r)
		if r.BytesWritten != len(data) {
			t.Fatalf("bytesWritten %d, want %d", r.BytesWritten, len(data))
		}
	}
	seen(">>> ")
	send("import os, signal, subprocess\n")
	seen(">>> ")
	send("print('tty', os.isatty(0), os.isatty(1), os.isatty(2), os.get_terminal_size())\n")
	seen("tty True True True os.terminal_size(columns=100, lines=30)")
	send("print('ctty', os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp(), open('/dev/tty', 'w').write('x'))\n")
	seen("ctty True True 1")
	// Nothing of the server but the terminal (3 is listdir's own).
	send("print('fds', sorted(int(f) for f in os.listdir('/proc/self/fd')), os.readlink('/proc/self/fd/0') == os.ttyname(0))\n")
	seen("fds [0, 1, 2, 3] True")
	// A program in the foreground waits for the resize (SIGWINCH), blocked
	// before it says it waits, so that a resize cannot come too early.
	send(`subprocess.run(['/usr/bin/python3', '-c', "import os, signal; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGWINCH]); print('waiting', flush=True); signal.sigwait([signal.SIGWINCH]); print('winch', os.get_terminal_size())"])` + "\n")
	seen("waiting\r\n") // the output line, not the echo of the command

	// A resize alone (no data), as SPEC 7.4 allows.
	var rs struct {
		BytesWritten int `json:"bytesWritten"`
		Terminal     struct {
			Cols int `json:"cols"`
			Rows int `json:"rows"`
		} `json:"terminal"`
	}
	s.ok("process_send_stdin", map[string]any{"pid": pid, "cols": 120, "rows": 40}, &rs)
	if rs.Terminal.Cols != 120 || rs.Terminal.Rows != 40 || rs.BytesWritten != 0 {
		t.Fatalf("resize result %+v", rs)
	}
	seen("winch os.terminal_size(columns=120, lines=40)")
	seen(">>> ")
	send("r = subprocess.run(['stty', 'size']); print('stty exit', r.returncode)\n")
	seen("40 120\r\n")
	seen("stty exit 0")

	// Ctrl-C is terminal input like any other, blockBinaryStdin on or not:
	// it interrupts the interpreter, which lives on.
	// (Caught: python3 -i exits by SIGINT at the end once any statement
	// ended in an uncaught KeyboardInterrupt.)
	send("import time\n")
	seen(">>> ")
	send("try: print('sleeping', flush=True); time.sleep(60)\nexcept KeyboardInterrupt: print('interrupted')\n\n")
	seen("sleeping\r\n")
	send("\x03")
	seen("interrupted")
	seen(">>> ")
	// NUL is still refused.
	s.failCode("process_send_stdin", map[string]any{"pid": pid, "data": "a\x00"}, "BINARY_STDIN_BLOCKED")

	var closed struct {
		StdinClosed bool `json:"stdinClosed"`
		EOFSent     bool `json:"eofSent"`
	}
	s.ok("process_send_stdin", map[string]any{"pid": pid, "data": "", "closeStdin": true}, &closed)
	if closed.StdinClosed || !closed.EOFSent {
		t.Errorf("closeStdin on a terminal: %+v, want eofSent and the terminal open", closed)
	}
	end := s.wait(pid)
	if end.ExitCode == nil || *end.ExitCode != 0 {
		var out ptyOutput
		s.ok("process_get_output", map[string]any{"pid": pid, "offset": next}, &out)
		t.Fatalf("python3 -i after Ctrl-D: exit %s, signal %q; the terminal showed last:\n%s", mustJSON(end.ExitCode), end.Signal, out.Stdout)
	}
	// The status of the exited process still says it ran on a terminal,
	// of the size it had last.
	var final struct {
		Pty      bool `json:"pty"`
		Terminal struct {
			Cols int `json:"cols"`
		} `json:"terminal"`
	}
	s.ok("process_get_status", map[string]any{"pid": pid}, &final)
	if !final.Pty || final.Terminal.Cols != 120 {
		t.Errorf("status after exit: %+v", final)
	}
	s.failCode("process_send_stdin", map[string]any{"pid": pid, "cols": 80}, "INVALID_INPUT")
}

// A terminal's options are refused where they cannot apply.
func TestPTYRefusals(t *testing.T) {
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/sleep", "/usr/bin/sleep"))
	s.failCode("process_start", map[string]any{"executable": "sleep", "args": []string{"1"}, "cols": 80}, "INVALID_INPUT")
	s.failCode("process_start", map[string]any{"executable": "sleep", "args": []string{"1"}, "pty": true, "stdin": "null"}, "INVALID_INPUT")
	st := s.start(map[string]any{"executable": "sleep", "args": []string{"30"}})
	e2 := s.failCode("process_send_stdin", map[string]any{"pid": st.Pid, "cols": 80, "rows": 24}, "INVALID_INPUT")
	if !strings.Contains(e2.Message, "no terminal") {
		t.Errorf("resize of a process without a terminal: %+v", e2)
	}
}
