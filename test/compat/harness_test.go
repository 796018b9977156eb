//go:build linux

package compat

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serverBin is the binary under test, built once by TestMain.
var serverBin string

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcp-process-compat-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	serverBin = filepath.Join(dir, "mcp-process")
	cmd := exec.Command("go", "build", "-o", serverBin, "github.com/mcp-process/mcp-process/cmd/mcp-process")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "compat: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("JSON-RPC error %d: %s", e.Code, e.Message) }

// reply is one JSON-RPC response line.
type reply struct {
	ID     *int64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// server is the binary started as the original's suite starts its server:
// no arguments, in a directory whose ./mcp-process-config.json is the
// original repository's, stdin and stdout pipes for JSON-RPC lines.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer
	dir    string // the start directory (the only allowed working directory)

	mu      sync.Mutex
	nextID  int64
	waiting map[int64]chan reply
	done    chan struct{} // closed when stdout ends (the reader's exit)
}

// syncBuffer is a bytes.Buffer safe for the exec package's copier and the test.
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

// startServer starts the binary in a fresh directory holding the original's
// config file. The server is root's children's uid 65534: the directory is
// open to it, as a project directory a user points the server at would be.
func startServer(t *testing.T) *server {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on this host: the original's suite launches node and npm")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "project")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join("testdata", "mcp-process-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mcp-process-config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(serverBin)
	cmd.Dir = dir
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCP_PROCESS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "HOME="+filepath.Join(base, "home"), "XDG_STATE_HOME="+filepath.Join(base, "state"))
	s := &server{t: t, cmd: cmd, stderr: &syncBuffer{}, dir: dir, waiting: map[int64]chan reply{}, done: make(chan struct{})}
	cmd.Stderr = s.stderr
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go s.read(stdout)
	t.Cleanup(func() {
		// As the original's suite ends: stdin closed; the server stops
		// every child and exits.
		s.stdin.Close()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-s.done
		}
		cmd.Wait()
		if t.Failed() {
			t.Logf("server stderr:\n%s", s.stderr.String())
		}
	})
	return s
}

// read delivers each response line to the request waiting for its id;
// other lines (notifications) are skipped. It ends when stdout closes.
func (s *server) read(stdout io.Reader) {
	defer close(s.done)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r reply
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.ID == nil {
			continue
		}
		s.mu.Lock()
		ch := s.waiting[*r.ID]
		delete(s.waiting, *r.ID)
		s.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// request sends one JSON-RPC request line and waits for its response, as
// the original's sendRequest does (params {} when none; an error response
// is an error).
func (s *server) request(method string, params any) (json.RawMessage, error) {
	if params == nil {
		params = map[string]any{}
	}
	s.mu.Lock()
	s.nextID++
	id := s.nextID
	ch := make(chan reply, 1)
	s.waiting[id] = ch
	s.mu.Unlock()
	line, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if _, err := s.stdin.Write(append(line, '\n')); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Error != nil {
			return nil, r.Error
		}
		return r.Result, nil
	case <-s.done:
		return nil, fmt.Errorf("%s: the server closed stdout", method)
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("%s: no response in 60 s", method)
	}
}

// mustRequest is request, failing the test on an error (the original's
// sendRequest rejects on an error response).
func (s *server) mustRequest(t *testing.T, method string, params any) map[string]any {
	t.Helper()
	raw, err := s.request(method, params)
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: result %s: %v", method, raw, err)
	}
	return m
}

// toolResult is a tools/call result as the original's tests read it.
type toolResult struct {
	IsError bool
	// Response is JSON.parse of the first text content.
	Response map[string]any
}

// call calls a tool and parses its first text content as JSON, as the
// original's clients do (content.find(c => c.type === "text"), then
// JSON.parse(text)); a result without one fails the test.
func (s *server) call(t *testing.T, name string, args map[string]any) toolResult {
	t.Helper()
	r := s.mustRequest(t, "tools/call", map[string]any{"name": name, "arguments": args})
	content, _ := r["content"].([]any)
	for _, c := range content {
		c, _ := c.(map[string]any)
		if c["type"] != "text" {
			continue
		}
		text, _ := c["text"].(string)
		var resp map[string]any
		if err := json.Unmarshal([]byte(text), &resp); err != nil {
			t.Fatalf("%s: the text content is not JSON (%v): %q", name, err, text)
		}
		isErr, _ := r["isError"].(bool)
		return toolResult{IsError: isErr, Response: resp}
	}
	t.Fatalf("%s: no text content in %v", name, r)
	return toolResult{}
}

// start is process_start with captureOutput, returning the response.
func (s *server) start(t *testing.T, args map[string]any) map[string]any {
	t.Helper()
	args["captureOutput"] = true
	return s.call(t, "process_start", args).Response
}

// mustStart is start, requiring status "success" and a pid > 0.
func (s *server) mustStart(t *testing.T, args map[string]any) int64 {
	t.Helper()
	r := s.start(t, args)
	if r["status"] != "success" {
		t.Fatalf("process_start %v: %v", args, r)
	}
	pid, ok := r["pid"].(float64)
	if !ok || pid <= 0 {
		t.Fatalf("process_start: pid %v", r["pid"])
	}
	return int64(pid)
}

func (s *server) status(t *testing.T, pid int64) map[string]any {
	t.Helper()
	return s.call(t, "process_get_status", map[string]any{"pid": pid}).Response
}

func (s *server) terminate(t *testing.T, pid int64, force bool) map[string]any {
	t.Helper()
	return s.call(t, "process_terminate", map[string]any{"pid": pid, "force": force}).Response
}

func (s *server) output(t *testing.T, pid int64) map[string]any {
	t.Helper()
	return s.call(t, "process_get_output", map[string]any{"pid": pid}).Response
}

// terminated is the original's check that a process no longer runs.
func terminated(r map[string]any, extra ...string) bool {
	state, _ := r["state"].(string)
	if r["status"] == "error" || r["code"] == "PROCESS_NOT_FOUND" {
		return true
	}
	for _, s := range append([]string{"terminated", "exited", "completed"}, extra...) {
		if state == s {
			return true
		}
	}
	return r["status"] == "success" && state != "running"
}

// awaitTerminated polls the status until the original's check holds: the
// original slept a fixed time and checked once; polling checks the same
// fact without depending on how busy the host is.
func (s *server) awaitTerminated(t *testing.T, pid int64, within time.Duration, extra ...string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := s.status(t, pid)
		if terminated(r, extra...) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d still running after %v: %v", pid, within, r)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// awaitOutput polls process_get_output until the process has exited (or
// the time is up) and returns the last response.
func (s *server) awaitOutput(t *testing.T, pid int64, within time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st := s.status(t, pid)
		if terminated(st) || time.Now().After(deadline) {
			return s.output(t, pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// errorInfo is the original's (code + " " + message), lower-cased.
func errorInfo(r map[string]any) string {
	code, _ := r["code"].(string)
	msg, _ := r["message"].(string)
	return strings.ToLower(code + " " + msg)
}

func containsAny(s string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// wantError checks status "error", a code or message, and that the error
// info names one of words.
func wantError(t *testing.T, r map[string]any, words ...string) {
	t.Helper()
	if r["status"] != "error" {
		t.Fatalf("status %v, want error: %v", r["status"], r)
	}
	if r["code"] == nil && r["message"] == nil {
		t.Fatalf("no code or message: %v", r)
	}
	if info := errorInfo(r); !containsAny(info, words...) {
		t.Fatalf("error %q names none of %q", info, words)
	}
}
