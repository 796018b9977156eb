//go:build linux

package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestNoChildSurvivesTheServer: whatever ends the server (the client closing
// stdin, or SIGTERM), every process and service it started is gone.
func TestNoChildSurvivesTheServer(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"stdin EOF", "SIGTERM"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			s := startServer(t, e, e.config("/bin/sleep"))
			var pids []int
			for range 3 {
				pids = append(pids, s.start(map[string]any{"executable": "/bin/sleep", "args": []string{"300"}}).Pid)
			}
			var svc struct {
				ServiceID string `json:"serviceId"`
				Pid       int    `json:"pid"`
			}
			s.ok("process_start_service", map[string]any{
				"name": "survivor", "executable": "/bin/sleep", "args": []string{"300"},
				"restartPolicy": map[string]any{"enabled": true, "maxRetries": 5, "backoffMs": 50},
			}, &svc)
			pids = append(pids, svc.Pid)
			for _, p := range pids {
				if !alive(p) {
					t.Fatalf("pid %d not running before the server stops", p)
				}
			}
			serverPid := s.cmd.Process.Pid

			begin := time.Now()
			switch how {
			case "stdin EOF":
				// close() waits for the exit; the transport would only send
				// SIGTERM after 15 s, so an earlier exit is the server's own.
				closed := make(chan error, 1)
				go func() { closed <- s.close() }()
				select {
				case <-closed:
				case <-time.After(30 * time.Second):
					t.Fatal("server did not exit within 30 s of stdin EOF")
				}
				if d := time.Since(begin); d >= 15*time.Second {
					t.Errorf("server took %v to exit after stdin EOF (the client had to signal it)", d)
				}
			case "SIGTERM":
				if err := syscall.Kill(serverPid, syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
				eventually(t, 15*time.Second, "the server to exit after SIGTERM", func() (bool, string) {
					return !alive(serverPid), fmt.Sprintf("server state %q", procState(serverPid))
				})
			}
			for _, p := range pids {
				waitGone(t, p, 5*time.Second, true)
			}
			// A restart policy must not bring the service back after shutdown.
			time.Sleep(300 * time.Millisecond)
			if err := s.close(); err != nil {
				t.Logf("server exit status: %v", err)
			}
			if st := s.cmd.ProcessState; st != nil && st.ExitCode() != 0 {
				t.Errorf("server exit code %d after %s, want 0\nstderr: %s", st.ExitCode(), how, tail(s.stderr.String(), 2000))
			}
			for _, p := range pids {
				if alive(p) {
					t.Errorf("pid %d (%s) alive after the server exited", p, cmdline(p))
				}
			}
			recs := e.auditRecords(t)
			exits := 0
			for _, r := range recs {
				if r["event"] == "exit" {
					exits++
				}
			}
			if exits < len(pids) {
				t.Errorf("%d exit records for %d processes stopped at shutdown", exits, len(pids))
			}
		})
	}
}
