package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// Tests of the original server's result shapes and argument forms (SPEC 7.3).

func TestGetStatsHasTheOriginalShape(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	_, st := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	pid := st["pid"]
	for _, history := range []bool{false, true} {
		res, m := callTool(t, cs, "process_get_stats", map[string]any{"pid": pid, "includeHistory": history})
		if res.IsError {
			t.Fatalf("process_get_stats: %v", m)
		}
		if m["pid"] != pid || m["state"] != "running" {
			t.Errorf("pid %v state %v, want %v running", m["pid"], m["state"], pid)
		}
		if u, ok := m["uptime"].(float64); !ok || u < 0 || u > 60 {
			t.Errorf("uptime %v", m["uptime"])
		}
		nested, ok := m["stats"].(map[string]any)
		if !ok {
			t.Fatalf("no stats{}: %v", m)
		}
		for _, k := range []string{"cpuPercent", "memoryMB", "threadCount", "ioRead", "ioWrite"} {
			if _, ok := nested[k].(float64); !ok {
				t.Errorf("stats.%s missing: %v", k, nested)
			}
			if _, ok := m[k].(float64); !ok {
				t.Errorf("flat %s missing (today's fields stay): %v", k, m)
			}
		}
		// includeHistory: true always returns history, [] before the first
		// sample (the process just started); false leaves it out.
		if h, ok := m["history"]; ok != history {
			t.Errorf("includeHistory %v: history present %v (%v)", history, ok, h)
		} else if _, isList := h.([]any); history && !isList {
			t.Errorf("history %v (%T), want a list", h, h)
		}
		if tc, _ := nested["threadCount"].(float64); tc < 1 || tc != m["threadCount"] {
			t.Errorf("stats.threadCount %v, flat %v: want the same, at least 1", nested["threadCount"], m["threadCount"])
		}
	}
	// The output schema requires the original's members.
	out := outputSchema(t, cs, "process_get_stats")
	if err := out.Validate(map[string]any{"status": "success", "cpuPercent": 0, "memoryMB": 0, "threadCount": 1, "processCount": 1, "ioRead": 0, "ioWrite": 0}); err == nil {
		t.Error("the outputSchema accepts a result without pid, state, uptime and stats")
	}
}

func TestEncodingUTF8Dash(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	_, run := callTool(t, cs, "process_run", map[string]any{"executable": "/bin/echo", "args": []string{"héllo"}})
	res, m := callTool(t, cs, "process_get_output", map[string]any{"pid": run["pid"], "encoding": "utf-8"})
	if res.IsError || m["stdout"] != "héllo\n" || m["encoding"] != "utf8" {
		t.Errorf("process_get_output utf-8: %v", m)
	}
	_, st := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	res, m = callTool(t, cs, "process_send_stdin", map[string]any{"pid": st["pid"], "data": "é\n", "encoding": "utf-8"})
	if res.IsError || m["bytesWritten"] != float64(3) {
		t.Errorf("process_send_stdin utf-8: %v", m)
	}
	res, m = callTool(t, cs, "process_send_stdin", map[string]any{"pid": st["pid"], "data": "x", "encoding": "latin1"})
	if !res.IsError || errorCode(m) != string(errcode.InvalidInput) {
		t.Errorf("encoding latin1: want INVALID_INPUT, got %v", m)
	}
}

func TestServiceIDIsItsName(t *testing.T) {
	rec := &memRecorder{}
	cs := connect(t, newTestServer(t, testConfig(t), rec))
	svc := map[string]any{"name": "web", "executable": "/bin/sleep", "args": []string{"30"}}
	res, m := callTool(t, cs, "process_start_service", svc)
	if res.IsError || m["serviceId"] != "web" {
		t.Fatalf("process_start_service: %v", m)
	}
	// A second service of the same name while the first runs is refused.
	res, m = callTool(t, cs, "process_start_service", svc)
	if !res.IsError || errorCode(m) != string(errcode.InvalidInput) || !strings.Contains(m["message"].(string), `"web"`) {
		t.Fatalf("a second service named web: want INVALID_INPUT naming it, got %v", m)
	}
	res, m = callTool(t, cs, "process_get_service", map[string]any{"serviceId": "web"})
	if res.IsError || m["state"] != "running" || m["name"] != "web" {
		t.Fatalf("process_get_service web: %v", m)
	}
	res, m = callTool(t, cs, "process_stop_service", map[string]any{"serviceId": "web"})
	if res.IsError || m["state"] != "stopped" {
		t.Fatalf("process_stop_service web: %v", m)
	}
	// A stopped service's name can be used again.
	res, m = callTool(t, cs, "process_start_service", svc)
	if res.IsError || m["serviceId"] != "web" {
		t.Fatalf("restart of web after it stopped: %v", m)
	}
	res, m = callTool(t, cs, "process_get_service", map[string]any{"serviceId": "db"})
	if !res.IsError || errorCode(m) != string(errcode.ProcessNotFound) {
		t.Errorf("unknown service: %v", m)
	}
	res, m = callTool(t, cs, "process_start_service", map[string]any{"name": "", "executable": "/bin/sleep", "args": []string{"30"}})
	if !res.IsError || errorCode(m) != string(errcode.InvalidInput) {
		t.Errorf("empty name: want INVALID_INPUT, got %v", m)
	}
}

// newServerWithHealthChecks is newTestServer with the supervisor's health
// checks authorized by the server's policy, as serve wires them.
func newServerWithHealthChecks(t *testing.T, cfg *config.Config) *Server {
	t.Helper()
	pol := testPolicy(t, cfg)
	sup := supervisor.New(supervisor.Options{Config: cfg, Audit: &memRecorder{},
		Authorize: func(agent string, req policy.Request) (*policy.Spec, *errcode.Error) {
			d := pol.Evaluate(req, time.Now())
			if !d.Allow {
				return nil, d.Err
			}
			return d.Spec, nil
		}})
	s := New(Options{Config: cfg, Policy: pol, Supervisor: sup, Audit: &memRecorder{}, AgentID: "tester", Layers: map[string]string{}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
		s.Close()
	})
	return s
}

func TestHealthCheckCommandLineOrArgv(t *testing.T) {
	cs := connect(t, newServerWithHealthChecks(t, testConfig(t)))
	for name, cmd := range map[string]any{
		"line": "/bin/echo  healthy ok",
		"argv": []string{"/bin/echo", "healthy"},
	} {
		res, m := callTool(t, cs, "process_start_service", map[string]any{"name": name, "executable": "/bin/sleep", "args": []string{"30"},
			"healthCheck": map[string]any{"command": cmd, "interval": 1000, "timeout": 1000}})
		if res.IsError {
			t.Fatalf("%s: %v", name, m)
		}
	}
	for _, name := range []string{"line", "argv"} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, m := callTool(t, cs, "process_get_service", map[string]any{"serviceId": name})
			if m["health"] == "healthy" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health never healthy: %v", name, m)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// A command line is split, never given to a shell: the first word is
	// the executable, checked by the policy like any launch.
	for name, cmd := range map[string]any{
		"shell line":  "/bin/echo ok; sudo id",
		"empty line":  "",
		"not a shell": "sh -c true",
		"a number":    42,
		"empty argv":  []string{},
	} {
		res, m := callTool(t, cs, "process_start_service", map[string]any{"name": "bad", "executable": "/bin/sleep", "args": []string{"30"},
			"healthCheck": map[string]any{"command": cmd, "interval": 1000, "timeout": 1000}})
		if !res.IsError {
			t.Errorf("%s: health check %v accepted: %v", name, cmd, m)
			callTool(t, cs, "process_stop_service", map[string]any{"serviceId": "bad"})
		}
	}
}
