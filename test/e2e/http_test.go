//go:build linux

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func tokenHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

var listenRe = regexp.MustCompile(`url=(http://127\.0\.0\.1:\d+/mcp)`)

// startHTTPServer runs `mcp-process serve --http 127.0.0.1:0` and returns
// the endpoint it announced on stderr.
func startHTTPServer(t *testing.T, e *testEnv, cfg map[string]any) (*exec.Cmd, string) {
	t.Helper()
	cmd, url, _ := startHTTPServerStderr(t, e, cfg)
	return cmd, url
}

// startHTTPServerStderr is startHTTPServer that also returns the server's stderr.
func startHTTPServerStderr(t *testing.T, e *testEnv, cfg map[string]any) (*exec.Cmd, string, *syncBuffer) {
	t.Helper()
	path := e.writeConfig(t, "config.json", cfg)
	stderr := &syncBuffer{}
	cmd := exec.Command(serverBin, "serve", "--http", "127.0.0.1:0", "--config", path)
	cmd.Dir, cmd.Env, cmd.Stderr = e.work, e.environ(), stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	var url string
	eventually(t, 15*time.Second, "the server announces its URL", func() (bool, string) {
		m := listenRe.FindStringSubmatch(stderr.String())
		if m == nil {
			return false, stderr.String()
		}
		url = m[1]
		return true, ""
	})
	return cmd, url, stderr
}

func dialHTTP(t *testing.T, url, token string) (*mcp.ClientSession, error) {
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-http", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: url, HTTPClient: &http.Client{Transport: bearer{token}}, MaxRetries: -1}, nil)
}

func TestHTTPAgents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/sleep")
	cfg["agents"] = []map[string]string{{"id": "ci-bot", "tokenSha256": tokenHash("ci-token")}, {"id": "ide", "tokenSha256": tokenHash("ide-token")}}
	cmd, url := startHTTPServer(t, e, cfg)

	// No token, a wrong token: 401 before any MCP message is handled.
	for _, tok := range []string{"", "not-a-token"} {
		req, _ := http.NewRequest(http.MethodPost, url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", tok, resp.StatusCode)
		}
	}

	bot, err := dialHTTP(t, url, "ci-token")
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	ide, err := dialHTTP(t, url, "ide-token")
	if err != nil {
		t.Fatal(err)
	}
	defer ide.Close()

	res, err := bot.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_start", Arguments: map[string]any{"executable": "/bin/sleep", "args": []string{"300"}}})
	if err != nil || res.IsError {
		t.Fatalf("ci-bot start: %v %+v", err, res)
	}
	st, err := toToolResult(res)
	if err != nil {
		t.Fatal(err)
	}
	var started struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal(st.Structured, &started); err != nil || started.Pid <= 0 {
		t.Fatalf("start result %s: %v", st.Structured, err)
	}
	pid := started.Pid

	// The other agent cannot see, read or stop it: PROCESS_NOT_FOUND, as for a pid that does not exist.
	for _, tool := range []string{"process_get_status", "process_terminate", "process_get_output", "process_send_stdin"} {
		args := map[string]any{"pid": pid}
		if tool == "process_send_stdin" {
			args["data"] = "x"
		}
		res, err := ide.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := toToolResult(res)
		te, _ := r.err()
		if !res.IsError || te.Code != "PROCESS_NOT_FOUND" {
			t.Errorf("ide %s on ci-bot's pid: want PROCESS_NOT_FOUND, got %s", tool, r.Structured)
		}
	}
	// Nor read or subscribe to its output as a resource: refused, and each
	// refusal is a denial record naming the agent that asked (SPEC 7.2).
	uri := "process://" + strconv.Itoa(pid) + "/stdout"
	if _, err := ide.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri}); err == nil {
		t.Errorf("ide resources/read of ci-bot's %s succeeded", uri)
	}
	if err := ide.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err == nil {
		t.Errorf("ide resources/subscribe to ci-bot's %s succeeded", uri)
	}
	for _, method := range []string{"resources/read", "resources/subscribe"} {
		var rec map[string]any
		for _, r := range e.auditRecords(t) {
			if r["tool"] == method && r["agent"] == "ide" {
				rec = r
			}
		}
		if rec == nil || rec["decision"] != "deny" || rec["code"] != "PROCESS_NOT_FOUND" || rec["pid"] != float64(pid) {
			t.Errorf("%s of another agent's output: record %v, want a deny record with PROCESS_NOT_FOUND and pid %d", method, rec, pid)
		}
	}
	if !alive(pid) {
		t.Fatal("ci-bot's process died")
	}

	// The launch record names the agent the token maps to.
	found := false
	for _, r := range e.auditRecords(t) {
		if r["event"] == "launch" && r["agent"] == "ci-bot" {
			found = true
		}
	}
	if !found {
		t.Error("no launch record for agent ci-bot")
	}

	// Stopping the server stops the agents' processes.
	cmd.Process.Signal(syscall.SIGTERM)
	waitGone(t, pid, 15*time.Second, true)
}

func TestHTTPNonLoopbackWithoutAgentsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", e.config("/bin/sleep"))
	cmd := exec.Command(serverBin, "serve", "--http", "0.0.0.0:0", "--config", path)
	cmd.Dir, cmd.Env = e.work, e.environ()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("non-loopback bind without agents: want exit 2, got %v\n%s", err, out)
	}
	if !regexp.MustCompile(`agents`).Match(out) {
		t.Errorf("the refusal should name the agents key: %s", out)
	}
}

// A root server never serves HTTP anonymously (SPEC 7.1): loopback is no
// boundary between the host's users, so without agents it refuses to
// start, naming the key and the remedy. With agents the same bind works.
func TestHTTPRootWithoutAgentsRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the refusal is a root server's; this test runs as uid", os.Geteuid())
	}
	t.Parallel()
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", e.config("/bin/sleep"))
	cmd := exec.Command(serverBin, "serve", "--http", "127.0.0.1:0", "--config", path)
	cmd.Dir, cmd.Env = e.work, e.environ()
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err == nil || !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("HTTP on a root server without agents: want exit 2, got %v\n%s", err, out)
	}
	for _, want := range []string{`"agents"`, "root", "tokenSha256"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the refusal should say %s: %s", want, out)
		}
	}
	if strings.Contains(string(out), "listening") {
		t.Errorf("the server listened before refusing: %s", out)
	}

	// The same server with an agent starts and answers that agent.
	cfg := e.config("/bin/sleep")
	cfg["agents"] = []map[string]any{{"id": "ci", "tokenSha256": tokenHash("root-http-token")}}
	_, url := startHTTPServer(t, e, cfg)
	s, err := dialHTTP(t, url, "root-http-token")
	if err != nil {
		t.Fatalf("with agents the root server should serve HTTP: %v", err)
	}
	s.Close()
}

// TestHTTPSessionOwnedByItsAgent (SPEC 7.2): another agent's POST, GET or
// DELETE on a session id is 404 and a security_violation record; the
// owner's session goes on; the id is in neither stderr nor the audit log.
func TestHTTPSessionOwnedByItsAgent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/sleep")
	cfg["agents"] = []map[string]string{{"id": "ci-bot", "tokenSha256": tokenHash("ci-token")}, {"id": "ide", "tokenSha256": tokenHash("ide-token")}}
	cmd, url, stderr := startHTTPServerStderr(t, e, cfg)
	bot, err := dialHTTP(t, url, "ci-token")
	if err != nil {
		t.Fatal(err)
	}
	defer bot.Close()
	sid := bot.ID()
	if sid == "" {
		t.Fatal("no session id")
	}
	for _, method := range []string{http.MethodPost, http.MethodGet, http.MethodDelete} {
		var body io.Reader
		if method == http.MethodPost {
			body = strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"process_list","arguments":{}}}`)
		}
		req, _ := http.NewRequest(method, url, body)
		req.Header.Set("Authorization", "Bearer ide-token")
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("ide's %s on ci-bot's session: %d, want 404", method, resp.StatusCode)
		}
	}
	if _, err := bot.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("ci-bot's session after ide's attempts: %v", err)
	}
	bot.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	eventually(t, 15*time.Second, "the server stops", func() (bool, string) {
		b, _ := os.ReadFile(e.audit)
		return strings.Contains(string(b), `"event":"server_stop"`), ""
	})
	n := 0
	for _, rec := range e.auditRecords(t) {
		if rec["layer"] == "http-session" {
			n++
			if rec["agent"] != "ide" || rec["event"] != "security_violation" {
				t.Errorf("record %v", rec)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d http-session records, want 3", n)
	}
	raw, _ := os.ReadFile(e.audit)
	if strings.Contains(string(raw), sid) || strings.Contains(stderr.String(), sid) {
		t.Errorf("the session id is in the audit log or on stderr:\n%s", stderr)
	}
}
