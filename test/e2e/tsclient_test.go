//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// The TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// tsclient/package.json) is what most MCP clients are built on. Its
// Client.callTool validates structuredContent against the tool's
// outputSchema and throws when it does not match, so a result that fails
// its schema never reaches the agent. These tests drive the built binary
// through it (tsclient/client.mjs) over stdio and Streamable HTTP.

// requireTSClientEnv makes a missing node or node_modules a failure
// instead of a skip (.ci/run sets it after installing them).
const requireTSClientEnv = "MCP_PROCESS_REQUIRE_TSCLIENT"

// tsClient returns node and the client script, or skips (or fails, under
// requireTSClientEnv) with the reason.
func tsClient(t *testing.T) (node, script string) {
	t.Helper()
	dir, err := filepath.Abs("tsclient")
	if err != nil {
		t.Fatal(err)
	}
	skip := func(reason string) {
		msg := "TypeScript SDK client test not run: " + reason
		if os.Getenv(requireTSClientEnv) != "" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "e2e: SKIP", t.Name()+":", msg)
		t.Skip(msg)
	}
	node, err = exec.LookPath("node")
	if err != nil {
		skip("node is not installed (Debian: apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@modelcontextprotocol", "sdk", "package.json")); err != nil {
		skip("its node_modules are not installed (run: npm ci --prefix test/e2e/tsclient)")
	}
	return node, filepath.Join(dir, "client.mjs")
}

type tsCall struct {
	Name      string         `json:"name"`
	Arguments map[string]any `json:"arguments"`
	// Progress asks for progress notifications (callTool's onprogress).
	Progress bool `json:"progress,omitempty"`
	// Until repeats the call until its stdout contains this text.
	Until string `json:"until,omitempty"`
	// Elicit is the client's answer to an elicitation/create during the
	// call ({"action", "content"}); the plan's capabilities must declare
	// elicitation (tsclient_approval_test.go).
	Elicit map[string]any `json:"elicit,omitempty"`
	// Expected outcome (not sent to the script): "" = success, else the code.
	wantCode string
}

type tsTool struct {
	Name         string         `json:"name"`
	Title        string         `json:"title"`
	InputSchema  map[string]any `json:"inputSchema"`
	OutputSchema map[string]any `json:"outputSchema"`
}

type tsOutcome struct {
	Name      string `json:"name"`
	Threw     bool   `json:"threw"`
	Error     string `json:"error"`
	ErrorCode any    `json:"errorCode"`
	Result    struct {
		IsError bool `json:"isError"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
		StructuredContent json.RawMessage `json:"structuredContent"`
	} `json:"result"`
	Progress []struct {
		Progress float64 `json:"progress"`
		Message  string  `json:"message"`
	} `json:"progress"`
	// Elicitations are the params of the questions the call brought.
	Elicitations []map[string]any `json:"elicitations"`
}

type tsReport struct {
	Tools   []tsTool    `json:"tools"`
	Results []tsOutcome `json:"results"`
}

// runTSClient runs client.mjs with plan (its "calls" set from calls).
func runTSClient(t *testing.T, e *testEnv, plan map[string]any, calls []tsCall) tsReport {
	t.Helper()
	node, script := tsClient(t)
	plan["calls"] = calls
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, script, mustJSON(plan))
	cmd.Dir = e.work
	cmd.Env = e.environ()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstdout: %s\nstderr (client and, over stdio, server): %s", err, stdout.String(), tail(stderr.String(), 4000))
	}
	var rep tsReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("client.mjs output is not its report: %v\n%s", err, stdout.String())
	}
	if len(rep.Results) != len(calls) {
		t.Fatalf("client.mjs made %d calls, want %d: %s", len(rep.Results), len(calls), stdout.String())
	}
	return rep
}

// tsCalls is what both transports exercise: successes of every shape a
// launch, read and service tool returns, and refusals from the policy,
// the supervisor and input validation.
func tsCalls() []tsCall {
	return []tsCall{
		{Name: "process_get_policy"},
		{Name: "process_run", Arguments: map[string]any{"executable": "/bin/echo", "args": []string{"hello"}}},
		{Name: "process_run", Arguments: map[string]any{"executable": "/bin/cat"}, wantCode: "EXECUTABLE_NOT_ALLOWED"},
		// A silent run of 2.5 s: a first progress notification at once, a heartbeat after 2 s.
		{Name: "process_run", Arguments: map[string]any{"executable": "/bin/sleep", "args": []string{"2.5"}}, Progress: true},
		{Name: "process_start", Arguments: map[string]any{"executable": "/bin/sleep", "args": []string{"30"}}},
		{Name: "process_get_status", Arguments: map[string]any{"pid": "$pid"}},
		{Name: "process_get_stats", Arguments: map[string]any{"pid": "$pid", "includeHistory": true}},
		{Name: "process_get_output", Arguments: map[string]any{"pid": "$pid"}},
		{Name: "process_list"},
		{Name: "process_send_stdin", Arguments: map[string]any{"pid": "$pid", "data": "x", "closeStdin": true}},
		{Name: "process_terminate", Arguments: map[string]any{"pid": "$pid"}},
		{Name: "process_wait", Arguments: map[string]any{"pid": "$pid", "timeout": 20000}},
		{Name: "process_get_status", Arguments: map[string]any{"pid": 999999999}, wantCode: "PROCESS_NOT_FOUND"},
		{Name: "process_run", Arguments: map[string]any{"executable": 5}, wantCode: "INVALID_INPUT"},
		{Name: "process_create_group", Arguments: map[string]any{"name": "g"}},
		{Name: "process_start_service", Arguments: map[string]any{"name": "svc", "executable": "/bin/sleep", "args": []string{"30"}}},
		{Name: "process_get_service", Arguments: map[string]any{"serviceId": "$serviceId"}},
		{Name: "process_stop_service", Arguments: map[string]any{"serviceId": "$serviceId"}},
		{Name: "process_get_service", Arguments: map[string]any{"serviceId": "no-such-service"}, wantCode: "PROCESS_NOT_FOUND"},
	}
}

// checkTSReport asserts what an agent behind the TypeScript SDK sees.
func checkTSReport(t *testing.T, rep tsReport, calls []tsCall) {
	t.Helper()
	if len(rep.Tools) == 0 {
		t.Fatal("listTools returned no tools")
	}
	for _, tool := range rep.Tools {
		if tool.Title == "" {
			t.Errorf("tool %s has no title", tool.Name)
		}
		if p := nullUnion(tool.InputSchema, "inputSchema"); p != "" {
			t.Errorf("tool %s: %s has a type union with null", tool.Name, p)
		}
		if _, ok := tool.InputSchema["properties"]; !ok {
			t.Errorf("tool %s: inputSchema has no properties", tool.Name)
		}
	}
	for i, c := range calls {
		o := rep.Results[i]
		what := fmt.Sprintf("call %d %s(%s)", i, c.Name, mustJSON(c.Arguments))
		if o.Threw {
			t.Errorf("%s: Client.callTool threw %v: %s", what, o.ErrorCode, o.Error)
			continue
		}
		var text string
		for _, ct := range o.Result.Content {
			if ct.Type == "text" {
				text += ct.Text
			}
		}
		var fromText map[string]any
		if err := json.Unmarshal([]byte(text), &fromText); err != nil {
			t.Errorf("%s: text content is not JSON (%v): %q", what, err, text)
			continue
		}
		if c.wantCode == "" {
			if o.Result.IsError {
				t.Errorf("%s: isError, want success: %s", what, text)
				continue
			}
			var sc map[string]any
			if err := json.Unmarshal(o.Result.StructuredContent, &sc); err != nil || sc == nil {
				t.Errorf("%s: no structuredContent object (%v): %s", what, err, o.Result.StructuredContent)
				continue
			}
			if sc["status"] != "success" {
				t.Errorf("%s: status %v, want success", what, sc["status"])
			}
			if !reflect.DeepEqual(sc, fromText) {
				t.Errorf("%s: text %s differs from structuredContent %s", what, text, o.Result.StructuredContent)
			}
			if c.Progress {
				if len(o.Progress) < 2 {
					t.Errorf("%s: %d progress notifications, want a first one and a heartbeat: %+v", what, len(o.Progress), o.Progress)
				}
				for j := 1; j < len(o.Progress); j++ {
					if o.Progress[j].Progress <= o.Progress[j-1].Progress {
						t.Errorf("%s: progress %v after %v: not increasing", what, o.Progress[j].Progress, o.Progress[j-1].Progress)
					}
				}
			}
			if c.Name == "process_run" && c.Arguments["executable"] == "/bin/echo" && reflect.DeepEqual(c.Arguments["args"], []string{"hello"}) {
				if sc["exitCode"] != float64(0) || sc["stdout"] != "hello\n" {
					t.Errorf("%s: exitCode %v stdout %q, want 0 and \"hello\\n\"", what, sc["exitCode"], sc["stdout"])
				}
			}
			continue
		}
		if !o.Result.IsError {
			t.Errorf("%s: succeeded, want %s: %s", what, c.wantCode, text)
			continue
		}
		if len(o.Result.StructuredContent) != 0 && string(o.Result.StructuredContent) != "null" {
			t.Errorf("%s: an error result carries structuredContent %s", what, o.Result.StructuredContent)
		}
		checkErrorJSON(t, what, fromText, c.wantCode)
	}
}

// checkErrorJSON asserts the error JSON of a refusal: the original
// server's flat status/code/message/remediation beside our error{}.
func checkErrorJSON(t *testing.T, what string, v map[string]any, wantCode string) {
	t.Helper()
	nested, _ := v["error"].(map[string]any)
	if nested == nil {
		t.Errorf("%s: error JSON has no error{}: %v", what, v)
		return
	}
	if v["status"] != "error" {
		t.Errorf("%s: status %v, want error", what, v["status"])
	}
	if v["code"] != wantCode || nested["code"] != wantCode {
		t.Errorf("%s: code %v, error.code %v, want %s", what, v["code"], nested["code"], wantCode)
	}
	if m, _ := v["message"].(string); m == "" || m != nested["message"] {
		t.Errorf("%s: message %q, error.message %q, want the same non-empty text", what, v["message"], nested["message"])
	}
	if l, _ := nested["layer"].(string); l == "" {
		t.Errorf("%s: error.layer is empty", what)
	}
	if r, _ := v["remediation"].(string); r == "" || r != nested["remedy"] {
		t.Errorf("%s: remediation %q, error.remedy %q, want the same non-empty text", what, v["remediation"], nested["remedy"])
	}
}

// nullUnion returns the path of the first "type" array in schema that
// contains "null", "" if there is none.
func nullUnion(schema any, path string) string {
	switch s := schema.(type) {
	case map[string]any:
		if ts, ok := s["type"].([]any); ok {
			for _, ty := range ts {
				if ty == "null" {
					return path + ".type"
				}
			}
		}
		for k, sub := range s {
			if p := nullUnion(sub, path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, sub := range s {
			if p := nullUnion(sub, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

func TestTSClientStdio(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", e.config("/bin/echo", "/bin/sleep"))
	calls := tsCalls()
	rep := runTSClient(t, e, map[string]any{
		"transport": "stdio", "command": serverBin, "args": []string{"serve", "--config", path}, "cwd": e.work,
	}, calls)
	checkTSReport(t, rep, calls)
}

func TestTSClientHTTP(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	cfg := e.config("/bin/echo", "/bin/sleep")
	cfg["agents"] = []map[string]string{{"id": "ts-agent", "tokenSha256": tokenHash("ts-token")}}
	_, url := startHTTPServer(t, e, cfg)
	calls := tsCalls()
	rep := runTSClient(t, e, map[string]any{"transport": "http", "url": url, "token": "ts-token"}, calls)
	checkTSReport(t, rep, calls)
}
