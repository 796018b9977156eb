//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Binaries built once by TestMain.
var (
	serverBin   string // mcp-process
	exitWithBin string // testdata/exitwith.go: exits with argv[1]
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcp-process-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the children (uid 65534) run these
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	serverBin = filepath.Join(dir, "mcp-process")
	exitWithBin = filepath.Join(dir, "exitwith")
	for _, b := range []struct{ out, pkg string }{
		{serverBin, "github.com/mcp-process/mcp-process/cmd/mcp-process"},
		{exitWithBin, "./testdata/exitwith.go"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	return m.Run()
}

// testEnv is one test's private directories.
type testEnv struct {
	dir   string // root of the test's temp files (config, HOME)
	work  string // the only allowed working directory
	audit string // auditLogPath
	// state is the server's XDG_STATE_HOME (the agents' homes are in it);
	// "" = dir/home/state.
	state string
	// bin and env, when set, are the server binary startServer runs and
	// variables added to its environment (egress_test.go's test build).
	bin string
	env []string
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	dir := t.TempDir()
	e := &testEnv{dir: dir, work: filepath.Join(dir, "work"), audit: filepath.Join(dir, "audit", "audit.log")}
	for _, d := range []string{e.work, filepath.Join(dir, "home"), filepath.Join(dir, "audit")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A root server's children run as uid 65534: they must reach the
	// test's directory (t.TempDir's parent is 0700) and write the working
	// directory, as a user's project directory would let them.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.work, 0o777); err != nil {
		t.Fatal(err)
	}
	return e
}

// config returns a config allowing exes, with its own audit log and working
// directory and a launch rate high enough not to get in the way.
func (e *testEnv) config(exes ...string) map[string]any {
	return map[string]any{
		"allowedExecutables":        exes,
		"allowedWorkingDirectories": []string{e.work},
		"auditLogPath":              e.audit,
		"maxLaunchesPerMinute":      1000,
	}
}

// writeConfig writes cfg as JSON into the env and returns its path.
func (e *testEnv) writeConfig(t *testing.T, name string, cfg any) string {
	t.Helper()
	var b []byte
	switch v := cfg.(type) {
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.MarshalIndent(cfg, "", "  "); err != nil {
			t.Fatal(err)
		}
	}
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// canaryVar is set in every server's environment; no child may see it.
const (
	canaryVar   = "E2E_SERVER_CANARY"
	canaryValue = "server-env-must-not-leak"
)

func (e *testEnv) stateHome() string {
	if e.state != "" {
		return e.state
	}
	return filepath.Join(e.dir, "home", "state")
}

// environ is the server's environment: HOME and XDG_STATE_HOME point into
// the test's directory so no default path outside it is ever touched, and
// no MCP_PROCESS_* variable of the caller leaks in.
func (e *testEnv) environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCP_PROCESS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+filepath.Join(e.dir, "home"), "XDG_STATE_HOME="+e.stateHome(),
		canaryVar+"="+canaryValue)
	return append(env, extra...)
}

// auditRecords reads the audit log (one JSON object per line).
func (e *testEnv) auditRecords(t *testing.T) []map[string]any {
	t.Helper()
	return readJSONL(t, e.audit)
}

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var recs []map[string]any
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("%s line %d is not JSON: %v\n%s", path, i+1, err, line)
		}
		recs = append(recs, r)
	}
	return recs
}

// syncBuffer collects a child's stderr safely.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// mcpServer is a running mcp-process driven by the official SDK client.
type mcpServer struct {
	t       *testing.T
	env     *testEnv
	cmd     *exec.Cmd
	session *mcp.ClientSession
	stderr  *syncBuffer

	closeOnce sync.Once
	closeErr  error

	mu         sync.Mutex
	progress   []mcp.ProgressNotificationParams
	progressAt []time.Time // when each progress notification arrived
	updated    []string    // URIs of notifications/resources/updated
	//lint:ignore SA1019 SPEC 7.4 asks for notifications/message (deprecated from protocol 2026-07-28)
	logs []mcp.LoggingMessageParams
}

// startServer runs `mcp-process serve --config FILE` with cfg and connects.
// The server is stopped (stdin EOF) when the test ends.
func startServer(t *testing.T, e *testEnv, cfg map[string]any) *mcpServer {
	t.Helper()
	return startServerArgs(t, e, cfg)
}

// startServerArgs is startServer with more serve flags.
func startServerArgs(t *testing.T, e *testEnv, cfg map[string]any, flags ...string) *mcpServer {
	t.Helper()
	path := e.writeConfig(t, "config.json", cfg)
	s := &mcpServer{t: t, env: e, stderr: &syncBuffer{}}
	bin := serverBin
	if e.bin != "" {
		bin = e.bin
	}
	s.cmd = exec.Command(bin, append([]string{"serve", "--config", path}, flags...)...)
	s.cmd.Dir = e.work
	s.cmd.Env = e.environ(e.env...)
	s.cmd.Stderr = s.stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-test", Version: "1.0.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			s.mu.Lock()
			s.progress = append(s.progress, *req.Params)
			s.progressAt = append(s.progressAt, time.Now())
			s.mu.Unlock()
		},
		//lint:ignore SA1019 SPEC 7.4 asks for notifications/message (deprecated from protocol 2026-07-28)
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			s.mu.Lock()
			s.logs = append(s.logs, *req.Params)
			s.mu.Unlock()
		},
		ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
			s.mu.Lock()
			s.updated = append(s.updated, req.Params.URI)
			s.mu.Unlock()
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: s.cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect to mcp-process: %v\nserver stderr:\n%s", err, s.stderr)
	}
	s.session = session
	t.Cleanup(func() { s.close() })
	return s
}

// close ends the session (stdin EOF) and waits for the server to exit.
func (s *mcpServer) close() error {
	s.closeOnce.Do(func() { s.closeErr = s.session.Close() })
	return s.closeErr
}

func (s *mcpServer) progressNotes() []mcp.ProgressNotificationParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]mcp.ProgressNotificationParams(nil), s.progress...)
}

// progressFor returns the progress notifications of token and when each arrived.
func (s *mcpServer) progressFor(token string) ([]mcp.ProgressNotificationParams, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ps []mcp.ProgressNotificationParams
	var at []time.Time
	for i, p := range s.progress {
		if fmt.Sprint(p.ProgressToken) == token {
			ps, at = append(ps, p), append(at, s.progressAt[i])
		}
	}
	return ps, at
}

//lint:ignore SA1019 SPEC 7.4 asks for notifications/message (deprecated from protocol 2026-07-28)
func (s *mcpServer) logMessages() []mcp.LoggingMessageParams {
	s.mu.Lock()
	defer s.mu.Unlock()
	//lint:ignore SA1019 as above
	return append([]mcp.LoggingMessageParams(nil), s.logs...)
}

func (s *mcpServer) updatedURIs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.updated...)
}

// toolError is the "error" object of a failed call (SPEC section 2).
type toolError struct {
	Code              string `json:"code"`
	Layer             string `json:"layer"`
	Message           string `json:"message"`
	Remedy            string `json:"remedy"`
	RetryAfterSeconds int    `json:"retryAfterSeconds"`
}

// toolResult is a tool call's answer as the client sees it.
type toolResult struct {
	IsError bool
	// Structured is the result JSON: the structuredContent of a success,
	// the text content of an error (which has no structuredContent).
	Structured json.RawMessage
	Text       string
}

// err decodes the error JSON of a failed call and checks the original
// server's flat fields beside error{} (SPEC 7.3).
func (r toolResult) err() (toolError, error) {
	var v struct {
		Status      string     `json:"status"`
		Code        string     `json:"code"`
		Message     string     `json:"message"`
		Remediation string     `json:"remediation"`
		Error       *toolError `json:"error"`
	}
	if err := json.Unmarshal(r.Structured, &v); err != nil || v.Error == nil {
		return toolError{}, fmt.Errorf("isError result without {\"error\":{...}}: %s (text %q)", r.Structured, r.Text)
	}
	if v.Status != "error" || v.Code != v.Error.Code || v.Message != v.Error.Message || v.Remediation != v.Error.Remedy {
		return *v.Error, fmt.Errorf("error JSON's flat status/code/message/remediation do not match error{}: %s", r.Structured)
	}
	return *v.Error, nil
}

// tryCall calls a tool; it is safe from any goroutine. A transport failure
// (for example the server died) is an error.
func (s *mcpServer) tryCall(ctx context.Context, name string, args any) (toolResult, error) {
	res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return toolResult{}, fmt.Errorf("%s: %w (server stderr tail: %s)", name, err, tail(s.stderr.String(), 2000))
	}
	return toToolResult(res)
}

// toToolResult checks a result's shape (SPEC 7.3): an error carries its
// JSON as text content and no structuredContent; a success carries
// structuredContent with "status":"success" and the same JSON as text.
func toToolResult(res *mcp.CallToolResult) (toolResult, error) {
	r := toolResult{IsError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.Text += tc.Text
		}
	}
	if res.IsError {
		r.Structured = json.RawMessage(r.Text)
		if res.StructuredContent != nil {
			return r, fmt.Errorf("error result carries structuredContent %v (text %q)", res.StructuredContent, r.Text)
		}
		if !json.Valid([]byte(r.Text)) {
			return r, fmt.Errorf("error result's text content is not JSON: %q", r.Text)
		}
		return r, nil
	}
	if res.StructuredContent == nil {
		return r, fmt.Errorf("result has no structuredContent (text %q)", r.Text)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return r, err
	}
	r.Structured = b
	var a, t map[string]any
	_ = json.Unmarshal(b, &a)
	if a["status"] != "success" {
		return r, fmt.Errorf("successful result without \"status\":\"success\": %s", b)
	}
	// SPEC 2: the same JSON as text content, for older clients.
	if err := json.Unmarshal([]byte(r.Text), &t); err != nil || !reflect.DeepEqual(a, t) {
		return r, fmt.Errorf("text content %q is not the structuredContent %s", r.Text, b)
	}
	return r, nil
}

// call calls a tool and fails the test on a transport error.
func (s *mcpServer) call(name string, args any) toolResult {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r, err := s.tryCall(ctx, name, args)
	if err != nil {
		s.t.Fatalf("call %s(%s): %v", name, mustJSON(args), err)
	}
	return r
}

// ok calls a tool that must succeed and decodes its structuredContent into out.
func (s *mcpServer) ok(name string, args any, out any) {
	s.t.Helper()
	r := s.call(name, args)
	if r.IsError {
		s.t.Fatalf("%s(%s) failed: %s", name, mustJSON(args), r.Structured)
	}
	if out != nil {
		// Decode into a zero value: a field the answer omits must not keep
		// what an earlier answer put there.
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(r.Structured, out); err != nil {
			s.t.Fatalf("%s: decode %s: %v", name, r.Structured, err)
		}
	}
}

// fail calls a tool that must fail and returns its error object, checked
// for the fields every error has.
func (s *mcpServer) fail(name string, args any) toolError {
	s.t.Helper()
	r := s.call(name, args)
	if !r.IsError {
		s.t.Fatalf("%s(%s) succeeded, want an error: %s", name, mustJSON(args), r.Structured)
	}
	e, err := r.err()
	if err != nil {
		s.t.Fatalf("%s: %v", name, err)
	}
	if e.Code == "" || e.Layer == "" || e.Message == "" {
		s.t.Errorf("%s: error lacks code/layer/message: %+v", name, e)
	}
	return e
}

// failCode calls a tool that must fail with code.
func (s *mcpServer) failCode(name string, args any, code string) toolError {
	s.t.Helper()
	e := s.fail(name, args)
	if e.Code != code {
		s.t.Errorf("%s(%s): code %s, want %s (layer %q: %s)", name, mustJSON(args), e.Code, code, e.Layer, e.Message)
	}
	return e
}

// Result shapes (internal/supervisor/api.go and internal/server/tools.go).

type startResult struct {
	Pid       int    `json:"pid"`
	Name      string `json:"name"`
	State     string `json:"state"`
	StartTime string `json:"startTime"`
	Sandbox   struct {
		Applied     []string `json:"applied"`
		NotEnforced []string `json:"notEnforced"`
	} `json:"sandbox"`
}

type status struct {
	Pid               int      `json:"pid"`
	Name              string   `json:"name"`
	Command           string   `json:"command"`
	Args              []string `json:"args"`
	State             string   `json:"state"`
	StartTime         string   `json:"startTime"`
	Uptime            float64  `json:"uptime"`
	ExitCode          *int     `json:"exitCode"`
	Signal            string   `json:"signal"`
	TerminationReason string   `json:"terminationReason"`
	Kind              string   `json:"kind"`
	GroupID           string   `json:"groupId"`
	ServiceID         string   `json:"serviceId"`
	Stats             *stats   `json:"stats"`
}

type runResult struct {
	status
	Stdout       string       `json:"stdout"`
	Stderr       string       `json:"stderr"`
	Truncated    bool         `json:"truncated"`
	StdoutBytes  int64        `json:"stdoutBytes"`
	StderrBytes  int64        `json:"stderrBytes"`
	Offset       streamCounts `json:"offset"`
	NextOffset   streamCounts `json:"nextOffset"`
	DroppedBytes streamCounts `json:"droppedBytes"`
	DurationMs   int64        `json:"durationMs"`
}

type streamCounts struct {
	Stdout int64 `json:"stdout"`
	Stderr int64 `json:"stderr"`
}

type outputResult struct {
	Stdout       string       `json:"stdout"`
	Stderr       string       `json:"stderr"`
	Encoding     string       `json:"encoding"`
	StdoutBytes  int64        `json:"stdoutBytes"`
	StderrBytes  int64        `json:"stderrBytes"`
	Offset       streamCounts `json:"offset"`
	NextOffset   streamCounts `json:"nextOffset"`
	DroppedBytes streamCounts `json:"droppedBytes"`
}

type stats struct {
	CpuPercent  float64 `json:"cpuPercent"`
	MemoryMB    float64 `json:"memoryMB"`
	ThreadCount int     `json:"threadCount"`
	IoRead      int64   `json:"ioRead"`
	IoWrite     int64   `json:"ioWrite"`
	History     []struct {
		Time string `json:"time"`
	} `json:"history"`
}

type terminateResult struct {
	Pid               int    `json:"pid"`
	ExitCode          *int   `json:"exitCode"`
	Signal            string `json:"signal"`
	TerminationReason string `json:"terminationReason"`
}

type serviceStatus struct {
	ServiceID string `json:"serviceId"`
	Name      string `json:"name"`
	State     string `json:"state"`
	Pid       int    `json:"pid"`
	Restarts  int    `json:"restarts"`
	LastExit  *struct {
		Pid               int    `json:"pid"`
		ExitCode          *int   `json:"exitCode"`
		Signal            string `json:"signal"`
		TerminationReason string `json:"terminationReason"`
	} `json:"lastExit"`
	Health string `json:"health"`
	Error  string `json:"error"`
}

// Convenience calls.

func (s *mcpServer) start(args map[string]any) startResult {
	s.t.Helper()
	var r startResult
	s.ok("process_start", args, &r)
	if r.Pid <= 0 {
		s.t.Fatalf("process_start(%s): pid %d", mustJSON(args), r.Pid)
	}
	return r
}

func (s *mcpServer) wait(pid int) status {
	s.t.Helper()
	var st status
	s.ok("process_wait", map[string]any{"pid": pid, "timeout": 20000}, &st)
	if st.State != "exited" {
		s.t.Fatalf("process_wait(%d): state %q after 20 s, want exited", pid, st.State)
	}
	return st
}

func (s *mcpServer) output(args map[string]any) outputResult {
	s.t.Helper()
	var out outputResult
	s.ok("process_get_output", args, &out)
	return out
}

// Processes on the host.

// procState returns the state letter of pid from /proc, "" when it does not exist.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	st := procState(pid)
	return st != "" && st != "Z" && st != "X"
}

// waitGone polls until /proc/PID no longer exists (the process is dead and
// reaped). With zombieOK, a dead but unreaped process also counts (after
// the server exited, its children are reparented to a PID 1 that may not reap).
func waitGone(t *testing.T, pid int, timeout time.Duration, zombieOK bool) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("pid %d gone", pid), func() (bool, string) {
		st := procState(pid)
		if st == "" || (zombieOK && (st == "Z" || st == "X")) {
			return true, ""
		}
		return false, fmt.Sprintf("/proc/%d exists, state %s, cmdline %q", pid, st, cmdline(pid))
	})
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
}

// eventually polls cond every 50 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var detail string
	for {
		var ok bool
		if ok, detail = cond(); ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %s", timeout, what, detail)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// runCLI runs the binary with args in the env's work directory and returns
// stdout, stderr and the exit code.
func runCLI(t *testing.T, e *testEnv, stdin string, extraEnv []string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	cmd.Dir = e.work
	cmd.Env = e.environ(extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("mcp-process %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}
