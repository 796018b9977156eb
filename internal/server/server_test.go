package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// memRecorder keeps records in memory; fail makes every write fail.
type memRecorder struct {
	mu   sync.Mutex
	recs []audit.Record
	fail bool
}

func (m *memRecorder) Record(r audit.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("disk full")
	}
	m.recs = append(m.recs, r)
	return nil
}

func (m *memRecorder) find(event, code string) *audit.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.recs {
		if m.recs[i].Event == event && (code == "" || m.recs[i].Code == code) {
			r := m.recs[i]
			return &r
		}
	}
	return nil
}

func testConfig(t *testing.T) *config.Config {
	cfg := config.Defaults()
	cfg.AllowedExecutables = []string{"/bin/sleep", "/bin/echo", "/usr/bin/sleep", "/usr/bin/echo"}
	cfg.AllowedWorkingDirectories = []string{t.TempDir()}
	cfg.MaxLaunchesPerMinute = 1000
	return cfg
}

// testPolicy compiles cfg with the agents' homes in the test's directory,
// which a root server's children (uid 65534) can traverse (t.TempDir's
// parent is 0700), prepared as the server does at start.
func testPolicy(t *testing.T, cfg *config.Config) *policy.Policy {
	t.Helper()
	homes := filepath.Join(t.TempDir(), "homes")
	for _, d := range []string{filepath.Dir(filepath.Dir(homes)), filepath.Dir(homes)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	iso, _ := sandbox.IsolationFor(cfg)
	if err := agenthome.Prepare(homes, iso.HomeOwner()); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.New(cfg, policy.WithHomes(homes))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

func newTestServer(t *testing.T, cfg *config.Config, rec *memRecorder) *Server {
	t.Helper()
	pol := testPolicy(t, cfg)
	var srv atomic.Pointer[Server]
	sup := supervisor.New(supervisor.Options{Config: cfg, Audit: rec, OnStateChange: func(agent string, pid int, running bool) {
		if s := srv.Load(); s != nil {
			s.OnStateChange(agent, pid, running)
		}
	}, OnOutput: func(pid int, stream string) {
		if s := srv.Load(); s != nil {
			s.OnOutput(pid, stream)
		}
	}})
	s := New(Options{Config: cfg, Policy: pol, Supervisor: sup, Audit: rec, AgentID: "tester", Layers: map[string]string{}, ListResources: true})
	srv.Store(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
		s.Close()
	})
	return s
}

func connect(t *testing.T, s *Server) *mcp.ClientSession {
	t.Helper()
	return connectClient(t, s, nil)
}

// callTool calls a tool and returns its result JSON, checking the shape
// every client relies on (SPEC 7.3): an error has its JSON as text and no
// structuredContent; a success has "status":"success" and structured
// content that validates against the tool's outputSchema.
func callTool(t *testing.T, cs *mcp.ClientSession, name string, args any) (*mcp.CallToolResult, map[string]any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	var text string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			text += tc.Text
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("%s: text content is not a JSON object (%v): %q", name, err, text)
	}
	if res.IsError {
		if res.StructuredContent != nil {
			t.Errorf("%s: error result carries structuredContent %v", name, res.StructuredContent)
		}
		return res, m
	}
	if m["status"] != "success" {
		t.Errorf("%s: status %v, want success", name, m["status"])
	}
	var sc any
	b, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(b, &sc)
	if !reflect.DeepEqual(sc, any(m)) {
		t.Errorf("%s: structuredContent %s differs from the text %s", name, b, text)
	}
	if err := outputSchema(t, cs, name).Validate(sc); err != nil {
		t.Errorf("%s: result does not match the outputSchema: %v\n%s", name, err, b)
	}
	return res, m
}

var outputSchemas sync.Map // *mcp.ClientSession + tool -> *jsonschema.Resolved

// outputSchema returns the resolved outputSchema of tool as the client listed it.
func outputSchema(t *testing.T, cs *mcp.ClientSession, tool string) *jsonschema.Resolved {
	t.Helper()
	type key struct {
		cs   *mcp.ClientSession
		tool string
	}
	if r, ok := outputSchemas.Load(key{cs, tool}); ok {
		return r.(*jsonschema.Resolved)
	}
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tl := range res.Tools {
		if tl.Name != tool {
			continue
		}
		b, _ := json.Marshal(tl.OutputSchema)
		var s jsonschema.Schema
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: outputSchema: %v", tool, err)
		}
		r, err := s.Resolve(nil)
		if err != nil {
			t.Fatalf("%s: resolve outputSchema: %v", tool, err)
		}
		outputSchemas.Store(key{cs, tool}, r)
		return r
	}
	t.Fatalf("no tool %s", tool)
	return nil
}

func errorCode(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestDenialIsStructuredAndAudited(t *testing.T) {
	rec := &memRecorder{}
	cs := connect(t, newTestServer(t, testConfig(t), rec))
	res, m := callTool(t, cs, "process_start", map[string]any{"executable": "bash", "args": []string{"-c", "id"}})
	if !res.IsError || errorCode(m) != string(errcode.ShellBlocked) {
		t.Fatalf("bash: want isError SHELL_BLOCKED, got isError=%v %v", res.IsError, m)
	}
	if res.StructuredContent != nil {
		t.Errorf("a refusal carries structuredContent (TypeScript clients would validate it against the outputSchema and hide the refusal): %v", res.StructuredContent)
	}
	e := m["error"].(map[string]any)
	for _, k := range []string{"layer", "message", "remedy"} {
		if s, _ := e[k].(string); s == "" {
			t.Errorf("error.%s is empty: %v", k, e)
		}
	}
	// The original server's flat fields, beside error{}.
	if m["status"] != "error" || m["code"] != e["code"] || m["message"] != e["message"] || m["remediation"] != e["remedy"] {
		t.Errorf("flat status/code/message/remediation = %v/%v/%v/%v, want error and error{}'s values %v", m["status"], m["code"], m["message"], m["remediation"], e)
	}
	r := rec.find(audit.EventSecurityViolation, string(errcode.ShellBlocked))
	if r == nil {
		t.Fatalf("no security_violation record for the denial; records: %+v", rec.recs)
	}
	if r.Agent != "tester" || r.Tool != "process_start" || r.Executable != "bash" || r.Level != audit.LevelWarn {
		t.Errorf("violation record = %+v", r)
	}
}

func TestInvalidInputRejected(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	for name, args := range map[string]map[string]any{
		"unknown member":     {"executable": "/bin/echo", "shell": true},
		"case-variant":       {"executable": "/bin/echo", "Executable": "bash"},
		"wrong type":         {"executable": 42},
		"bad enum":           {"executable": "/bin/echo", "stdin": "tty"},
		"negative limit":     {"executable": "/bin/echo", "resourceLimits": map[string]any{"maxMemoryMB": -1}},
		"missing executable": {},
	} {
		t.Run(name, func(t *testing.T) {
			res, m := callTool(t, cs, "process_start", args)
			if !res.IsError || errorCode(m) != string(errcode.InvalidInput) {
				t.Fatalf("want INVALID_INPUT, got isError=%v %v", res.IsError, m)
			}
		})
	}
}

func TestAuditFailureFailsTheCall(t *testing.T) {
	rec := &memRecorder{fail: true}
	cs := connect(t, newTestServer(t, testConfig(t), rec))
	res, m := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if !res.IsError || errorCode(m) != string(errcode.Internal) {
		t.Fatalf("launch with an unwritable audit log: want INTERNAL, got %v", m)
	}
	res, m = callTool(t, cs, "process_start", map[string]any{"executable": "sudo"})
	if !res.IsError || errorCode(m) != string(errcode.Internal) {
		t.Fatalf("denial with an unwritable audit log: want INTERNAL, got %v", m)
	}
}

func TestToolsHaveStrictSchemas(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tools) != 16 {
		t.Errorf("want 16 tools, got %d", len(res.Tools))
	}
	for _, tool := range res.Tools {
		in, _ := tool.InputSchema.(map[string]any)
		if in["additionalProperties"] != false {
			t.Errorf("%s: inputSchema does not reject unknown members: %v", tool.Name, in)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no outputSchema", tool.Name)
		}
		if tool.Annotations == nil {
			t.Errorf("%s: no annotations", tool.Name)
		}
		if tool.Title == "" {
			t.Errorf("%s: no title", tool.Name)
		}
		if _, ok := in["properties"].(map[string]any); !ok {
			t.Errorf("%s: inputSchema has no properties object: %v", tool.Name, in)
		}
		if p := nullUnion(in, "inputSchema"); p != "" {
			t.Errorf("%s: %s is a type union with null (clients that reject type arrays cannot call the tool)", tool.Name, p)
		}
		out, _ := tool.OutputSchema.(map[string]any)
		if req, _ := out["required"].([]any); !slices.Contains(req, any("status")) {
			t.Errorf("%s: outputSchema does not require status: %v", tool.Name, out["required"])
		}
	}
}

// nullUnion returns the path of the first "type" array in schema that
// contains "null", "" if there is none.
func nullUnion(schema any, path string) string {
	switch s := schema.(type) {
	case map[string]any:
		if ts, ok := s["type"].([]any); ok && slices.Contains(ts, any("null")) {
			return path + ".type"
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

// bearerTransport adds a bearer token to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if b.token != "" {
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestHTTPAgentsSeeOnlyTheirOwnProcesses(t *testing.T) {
	cfg := testConfig(t)
	cfg.Agents = []config.Agent{{ID: "alice", TokenSha256: sha("alice-token")}, {ID: "bob", TokenSha256: sha("bob-token")}}
	rec := &memRecorder{}
	s := newTestServer(t, cfg, rec)
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)

	dial := func(token string) (*mcp.ClientSession, error) {
		c := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
		return c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: &http.Client{Transport: bearerTransport{token}}, MaxRetries: -1}, nil)
	}
	if cs, err := dial("wrong-token"); err == nil {
		cs.Close()
		t.Fatal("an unknown bearer token was let in")
	}
	alice, err := dial("alice-token")
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob, err := dial("bob-token")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()

	res, m := callTool(t, alice, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if res.IsError {
		t.Fatalf("alice start: %v", m)
	}
	pid := m["pid"]
	if r := rec.find(audit.EventLaunch, ""); r == nil || r.Agent != "alice" {
		t.Errorf("launch record should name agent alice: %+v", r)
	}
	for _, tool := range []string{"process_get_status", "process_terminate", "process_get_output"} {
		res, m := callTool(t, bob, tool, map[string]any{"pid": pid})
		if !res.IsError || errorCode(m) != string(errcode.ProcessNotFound) {
			t.Errorf("bob %s on alice's pid: want PROCESS_NOT_FOUND, got %v", tool, m)
		}
	}
	_, m = callTool(t, bob, "process_list", map[string]any{})
	if ps, _ := m["processes"].([]any); len(ps) != 0 {
		t.Errorf("bob sees alice's processes: %v", ps)
	}
	res, m = callTool(t, alice, "process_terminate", map[string]any{"pid": pid, "force": true})
	if res.IsError {
		t.Errorf("alice terminate: %v", m)
	}
}

func TestLiveProcessesAreListedAsResources(t *testing.T) {
	cs := connect(t, newTestServer(t, testConfig(t), &memRecorder{}))
	res, m := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if res.IsError {
		t.Fatalf("start: %v", m)
	}
	uri := fmt.Sprintf("process://%d/stdout", int(m["pid"].(float64)))
	listed := func() bool {
		lr, err := cs.ListResources(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range lr.Resources {
			if r.URI == uri {
				return true
			}
		}
		return false
	}
	waitFor(t, "the live process's stdout is listed", func() bool { return listed() })
	callTool(t, cs, "process_terminate", map[string]any{"pid": m["pid"], "force": true})
	waitFor(t, "the exited process is no longer listed", func() bool { return !listed() })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestHTTPSubscribeOnlyToOwnOutput(t *testing.T) {
	cfg := testConfig(t)
	cfg.Agents = []config.Agent{{ID: "alice", TokenSha256: sha("alice-token")}, {ID: "bob", TokenSha256: sha("bob-token")}}
	s := newTestServer(t, cfg, &memRecorder{})
	s.opts.ListResources = false // as serve --http: several agents
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)
	dial := func(token string) *mcp.ClientSession {
		c := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
		cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: hs.URL, HTTPClient: &http.Client{Transport: bearerTransport{token}}, MaxRetries: -1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cs.Close() })
		return cs
	}
	alice, bob := dial("alice-token"), dial("bob-token")
	res, m := callTool(t, alice, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if res.IsError {
		t.Fatalf("start: %v", m)
	}
	uri := fmt.Sprintf("process://%d/stdout", int(m["pid"].(float64)))
	if err := bob.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err == nil {
		t.Errorf("bob subscribed to alice's %s", uri)
	}
	if err := alice.Subscribe(context.Background(), &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Errorf("alice cannot subscribe to her own output: %v", err)
	}
}

// A browser's cross-origin POST (a page of another site posting to this
// server) is refused before it reaches MCP; the same request without the
// cross-site marker is served.
func TestHTTPRefusesCrossOriginPost(t *testing.T) {
	s := newTestServer(t, testConfig(t), &memRecorder{})
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	post := func(site string) int {
		req, err := http.NewRequest(http.MethodPost, hs.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("cross-site"); code != http.StatusForbidden {
		t.Fatalf("cross-site POST: status %d, want 403", code)
	}
	if code := post(""); code != http.StatusOK {
		t.Fatalf("POST without Sec-Fetch-Site: status %d, want 200", code)
	}
}
