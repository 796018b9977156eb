//go:build linux

//lint:file-ignore SA1019 SPEC 7.4 asks for notifications/message; the SDK marks logging deprecated for protocol 2026-07-28 (SEP-2577)

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// logsWith returns the log notifications whose data has event and pid (0: any).
func logsWith(logs []mcp.LoggingMessageParams, event string, pid int) []mcp.LoggingMessageParams {
	var out []mcp.LoggingMessageParams
	for _, l := range logs {
		d, _ := l.Data.(map[string]any)
		if d["event"] == event && (pid == 0 || d["pid"] == float64(pid)) {
			out = append(out, l)
		}
	}
	return out
}

// TestLogNotifications: a client that set a level with logging/setLevel
// gets notifications/message for its processes' exits and its denials, at
// that level and above, and none before it set one.
func TestLogNotifications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo", "/bin/sleep", "/bin/false"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"before"}}, &r)
	s.failCode("process_run", map[string]any{"executable": "/bin/sh", "args": []string{"-c", "id"}}, "SHELL_BLOCKED")
	time.Sleep(300 * time.Millisecond)
	if logs := s.logMessages(); len(logs) > 0 {
		t.Fatalf("log notifications before logging/setLevel: %+v", logs)
	}

	if err := s.session.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"at info"}}, &r)
	eventually(t, 5*time.Second, "an info notification of the exit", func() (bool, string) {
		got := logsWith(s.logMessages(), "exit", r.Pid)
		if len(got) == 1 && got[0].Level == "info" && got[0].Logger == "mcp-process" {
			d := got[0].Data.(map[string]any)
			return d["exitCode"] == float64(0) && d["terminationReason"] == "exited" && strings.Contains(fmt.Sprint(d["message"]), "exit"), fmt.Sprint(d)
		}
		return false, fmt.Sprintf("%+v", s.logMessages())
	})
	s.failCode("process_run", map[string]any{"executable": "/bin/sh", "args": []string{"-c", "id"}}, "SHELL_BLOCKED")
	eventually(t, 5*time.Second, "a warning notification of the denial", func() (bool, string) {
		got := logsWith(s.logMessages(), "security_violation", 0)
		return len(got) == 1 && got[0].Level == "warning" && got[0].Data.(map[string]any)["code"] == "SHELL_BLOCKED", fmt.Sprintf("%+v", s.logMessages())
	})

	// At warning, exits (info) are not sent; denials are.
	if err := s.session.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "warning"}); err != nil {
		t.Fatal(err)
	}
	n := len(s.logMessages())
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"at warning"}}, &r)
	s.failCode("process_run", map[string]any{"executable": "/bin/sh", "args": []string{"-c", "id"}}, "SHELL_BLOCKED")
	eventually(t, 5*time.Second, "the second denial", func() (bool, string) {
		return len(logsWith(s.logMessages(), "security_violation", 0)) == 2, fmt.Sprintf("%+v", s.logMessages())
	})
	time.Sleep(300 * time.Millisecond) // anything queued before the denial has arrived too
	for _, l := range s.logMessages()[n:] {
		if l.Level != "warning" && l.Level != "error" {
			t.Errorf("at level warning, got a %s notification: %v", l.Level, l.Data)
		}
	}

	// A service's health change.
	if err := s.session.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "info"}); err != nil {
		t.Fatal(err)
	}
	s.ok("process_start_service", map[string]any{"name": "svc", "executable": "/bin/sleep", "args": []string{"60"},
		"healthCheck": map[string]any{"command": []string{"/bin/false"}, "interval": 1000, "timeout": 1000}}, nil)
	eventually(t, 10*time.Second, "a notification that the service is unhealthy", func() (bool, string) {
		for _, l := range logsWith(s.logMessages(), "service", 0) {
			d := l.Data.(map[string]any)
			if d["serviceId"] == "svc" && d["reason"] == "health: unhealthy" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", s.logMessages())
	})
	s.ok("process_stop_service", map[string]any{"serviceId": "svc"}, nil)
}

// TestServerLogFlags: --log-format json makes every stderr line a JSON
// object; --log-level debug shows the per-notification lines that info
// hides, and a bad value is a usage error naming the flag.
func TestServerLogFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/echo")
	s := startServerArgs(t, e, cfg, "--log-format", "json", "--log-level", "debug")
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"hi"}}, &r)
	if err := s.close(); err != nil {
		t.Logf("close: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	levels := map[string]int{}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("stderr line is not JSON: %q (%v)", l, err)
		}
		if rec["msg"] == nil || rec["time"] == nil {
			t.Errorf("log line without msg/time: %q", l)
		}
		levels[fmt.Sprint(rec["level"])]++
		// The SDK's line per output notification is debug, not info.
		if rec["msg"] == "resource updated notification sent" && rec["level"] != "DEBUG" {
			t.Errorf("per-notification line at %v: %q", rec["level"], l)
		}
	}
	if levels["DEBUG"] == 0 || levels["INFO"] == 0 {
		t.Errorf("levels %v: want DEBUG and INFO lines at --log-level debug", levels)
	}

	// At warn, the start-up INFO line is gone.
	e2 := newEnv(t)
	s2 := startServerArgs(t, e2, e2.config("/bin/echo"), "--log-level", "warn")
	s2.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"hi"}}, &r)
	s2.close()
	if out := s2.stderr.String(); strings.Contains(out, "level=INFO") || strings.Contains(out, "level=DEBUG") {
		t.Errorf("--log-level warn logged below warn:\n%s", out)
	}

	path := e.writeConfig(t, "flags.json", cfg)
	for _, args := range [][]string{{"--log-format", "xml"}, {"--log-level", "loud"}} {
		_, stderr, code := runCLI(t, e, "", nil, append([]string{"serve", "--config", path}, args...)...)
		if code != 2 || !strings.Contains(stderr, args[0]) {
			t.Errorf("serve %v: exit %d, stderr %q; want 2 naming the flag", args, code, stderr)
		}
	}
}

// TestHTTPLogNotificationsPerAgent: over HTTP, an agent's log notifications
// go to its own sessions only: another agent never learns of its launches,
// exits or denials.
func TestHTTPLogNotificationsPerAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/sleep")
	cfg["agents"] = []map[string]string{{"id": "ci-bot", "tokenSha256": tokenHash("ci-token")}, {"id": "ide", "tokenSha256": tokenHash("ide-token")}}
	_, url := startHTTPServer(t, e, cfg)
	var mu sync.Mutex
	logs := map[string][]map[string]any{}
	dial := func(agent, token string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "e2e-http-" + agent, Version: "1"}, &mcp.ClientOptions{
			LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
				d, _ := req.Params.Data.(map[string]any)
				mu.Lock()
				logs[agent] = append(logs[agent], d)
				mu.Unlock()
			},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token}}, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		if err := cs.SetLoggingLevel(ctx, &mcp.SetLoggingLevelParams{Level: "debug"}); err != nil {
			t.Fatal(err)
		}
		return cs
	}
	bot, ide := dial("ci-bot", "ci-token"), dial("ide", "ide-token")
	res, err := bot.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": "/bin/sleep", "args": []string{"0.2"}}})
	if err != nil || res.IsError {
		t.Fatalf("ci-bot run: %v %+v", err, res)
	}
	r, err := toToolResult(res)
	if err != nil {
		t.Fatal(err)
	}
	var run runResult
	if err := json.Unmarshal(r.Structured, &run); err != nil {
		t.Fatal(err)
	}
	if res, err := ide.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": "/bin/sh"}}); err != nil || !res.IsError {
		t.Fatalf("ide's shell: %v %+v", err, res)
	}
	has := func(agent, event string, pid int) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, d := range logs[agent] {
			if d["event"] == event && (pid == 0 || d["pid"] == float64(pid)) {
				return true
			}
		}
		return false
	}
	eventually(t, 10*time.Second, "ci-bot's exit and ide's violation", func() (bool, string) {
		mu.Lock()
		detail := fmt.Sprint(logs)
		mu.Unlock()
		return has("ci-bot", "exit", run.Pid) && has("ide", "security_violation", 0), detail
	})
	time.Sleep(300 * time.Millisecond)
	if has("ide", "exit", 0) || has("ide", "launch", 0) {
		t.Errorf("ide got ci-bot's records: %v", logs["ide"])
	}
	if has("ci-bot", "security_violation", 0) {
		t.Errorf("ci-bot got ide's denial: %v", logs["ci-bot"])
	}
}
