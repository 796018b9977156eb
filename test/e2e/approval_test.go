//go:build linux

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The human approval layer (docs/approval.md): every test checks that
// nothing started before a person said yes (no process with the test's
// marker argument, no "launch" audit record) and that every no is
// CONFIRMATION_DENIED, an approval record and a security violation.

const legacyVersion = "2025-11-25" // asked with elicitation/create

// elicitFunc answers the server's questions (a person, in the tests).
type elicitFunc func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error)

// asker is a client's approval side: its elicitation handler (switchable),
// capabilities, protocol version and whether the SDK's multi-round-trip
// loop answers input requests itself.
type asker struct {
	mu       sync.Mutex
	handler  elicitFunc
	asked    []*mcp.ElicitParams
	caps     *mcp.ClientCapabilities // nil: what the handler implies
	version  string                  // "" = the SDK's latest (2026-07-28)
	noMRTR   bool
	noElicit bool
}

func (a *asker) set(h elicitFunc) {
	a.mu.Lock()
	a.handler = h
	a.mu.Unlock()
}

func (a *asker) questions() []*mcp.ElicitParams {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*mcp.ElicitParams(nil), a.asked...)
}

func (a *asker) elicit(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	a.mu.Lock()
	a.asked = append(a.asked, req.Params)
	h := a.handler
	a.mu.Unlock()
	if h == nil {
		return nil, errors.New("no handler")
	}
	return h(ctx, req)
}

// startAsking runs the server with cfg and a client that answers
// questions through a.
func startAsking(t *testing.T, e *testEnv, cfg map[string]any, a *asker) *mcpServer {
	t.Helper()
	path := e.writeConfig(t, "config.json", cfg)
	s := &mcpServer{t: t, env: e, stderr: &syncBuffer{}}
	s.cmd = exec.Command(serverBin, "serve", "--config", path)
	s.cmd.Dir = e.work
	s.cmd.Env = e.environ()
	s.cmd.Stderr = s.stderr
	opts := &mcp.ClientOptions{Capabilities: a.caps}
	if !a.noElicit {
		opts.ElicitationHandler = a.elicit
	}
	if a.noMRTR {
		opts.MultiRoundTrip = &mcp.MultiRoundTripOptions{Disabled: true}
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-approval", Version: "1.0.0"}, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: s.cmd, TerminateDuration: 15 * time.Second},
		&mcp.ClientSessionOptions{ProtocolVersion: a.version})
	if err != nil {
		t.Fatalf("connect: %v\nserver stderr:\n%s", err, s.stderr)
	}
	s.session = session
	t.Cleanup(func() { s.close() })
	if want := a.version; want != "" {
		if got := session.InitializeResult().ProtocolVersion; got != want {
			t.Fatalf("negotiated protocol %s, want %s", got, want)
		}
	}
	return s
}

func approvalConfig(e *testEnv) map[string]any {
	cfg := e.config("sleep", "true")
	cfg["requireConfirmation"] = true
	cfg["confirmationTimeoutSeconds"] = 5
	return cfg
}

var markers atomic.Int64

// marked is a launch of sleep whose argument no other process on the host
// has (a number from this test process's pid and a counter).
func marked(t *testing.T) (map[string]any, string) {
	m := fmt.Sprintf("%d.%07d", 3000+markers.Add(1), os.Getpid())
	return map[string]any{"executable": "sleep", "args": []string{m}}, m
}

// running reports the pids of processes whose argv has marker.
func running(marker string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(b), "\x00") {
			if a == marker {
				pids = append(pids, d.Name())
			}
		}
	}
	return pids
}

// recordsOf returns the audit records of event.
func recordsOf(recs []map[string]any, event string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["event"] == event {
			out = append(out, r)
		}
	}
	return out
}

// nothingStarted checks no process with marker runs and no launch record exists.
func nothingStarted(t *testing.T, e *testEnv, marker string) {
	t.Helper()
	if p := running(marker); len(p) > 0 {
		t.Errorf("process with %s runs: pids %v", marker, p)
	}
	for _, r := range recordsOf(e.auditRecords(t), "launch") {
		if args, _ := r["args"].([]any); len(args) > 0 && args[0] == marker {
			t.Errorf("launch record before/without approval: %v", r)
		}
	}
}

// checkDenied checks a CONFIRMATION_DENIED: its approval record (deny,
// reason containing why) and the security violation.
func checkDenied(t *testing.T, e *testEnv, te toolError, why string) {
	t.Helper()
	if te.Code != "CONFIRMATION_DENIED" || te.Layer != "approval" {
		t.Errorf("error %+v, want CONFIRMATION_DENIED [approval]", te)
	}
	if !strings.Contains(te.Message, why) {
		t.Errorf("message %q does not say %q", te.Message, why)
	}
	recs := e.auditRecords(t)
	var deny, violation bool
	for _, r := range recordsOf(recs, "approval") {
		if r["decision"] == "deny" && strings.Contains(r["reason"].(string), why) {
			deny = true
		}
	}
	for _, r := range recordsOf(recs, "security_violation") {
		if r["code"] == "CONFIRMATION_DENIED" && strings.Contains(r["reason"].(string), why) {
			violation = true
		}
	}
	if !deny || !violation {
		t.Errorf("audit: approval deny record %v, security_violation %v (want both, reason %q)", deny, violation, why)
	}
}

func approve(_ context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
	return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"decision": "approve"}}, nil
}

// TestApprovalForm: form elicitation on a 2025-11-25 session. The person
// sees the resolved path, arguments, working directory, limits and
// sandbox; only "accept" with decision "approve" runs the process.
func TestApprovalForm(t *testing.T) {
	e := newEnv(t)
	a := &asker{version: legacyVersion}
	s := startAsking(t, e, approvalConfig(e), a)

	t.Run("approve", func(t *testing.T) {
		args, marker := marked(t)
		a.set(func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			nothingStarted(t, e, marker) // asked before anything runs
			return approve(ctx, req)
		})
		r := s.start(args)
		defer s.call("process_terminate", map[string]any{"pid": r.Pid, "force": true})
		qs := a.questions()
		q := qs[len(qs)-1]
		for _, want := range []string{"/usr/bin/sleep", marker, e.work, "memory", "Sandbox", `"e2e-approval"`} {
			if !strings.Contains(q.Message, want) {
				t.Errorf("question does not show %q:\n%s", want, q.Message)
			}
		}
		t.Logf("question:\n%s", q.Message)
		schema, _ := json.Marshal(q.RequestedSchema)
		if !strings.Contains(string(schema), `"required":["decision"]`) {
			t.Errorf("form has no required field: %s", schema)
		}
		var ask, allow bool
		for _, rec := range recordsOf(e.auditRecords(t), "approval") {
			if rec["executable"] == "/usr/bin/sleep" && rec["channel"] == "elicitation-form" {
				ask = ask || rec["decision"] == "ask"
				allow = allow || rec["decision"] == "allow"
			}
		}
		if !ask || !allow {
			t.Errorf("approval records: ask %v allow %v", ask, allow)
		}
	})
	for _, tc := range []struct {
		name string
		h    elicitFunc
		why  string
	}{
		{"decline", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		}, "declined"},
		{"cancel", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "cancel"}, nil
		}, "cancelled"},
		{"deny choice", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"decision": "deny"}}, nil
		}, `"deny"`},
		// A client mode that accepts every form untouched cannot approve:
		// the decision field is required.
		{"empty accept", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{}}, nil
		}, "client failed to ask"},
		{"client error", func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return nil, errors.New("the user interface crashed")
		}, "client failed to ask"},
		{"time-out", func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			<-ctx.Done() // nobody answers
			return nil, ctx.Err()
		}, "confirmationTimeoutSeconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args, marker := marked(t)
			a.set(tc.h)
			for _, tool := range []string{"process_start", "process_run"} {
				checkDenied(t, e, s.failCode(tool, args, "CONFIRMATION_DENIED"), tc.why)
			}
			nothingStarted(t, e, marker)
		})
	}
	t.Run("service", func(t *testing.T) {
		_, marker := marked(t)
		a.set(func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		})
		s.failCode("process_start_service", map[string]any{"name": "svc", "executable": "sleep", "args": []string{marker}}, "CONFIRMATION_DENIED")
		nothingStarted(t, e, marker)
	})
}

// TestApprovalNoElicitation: a client that cannot be asked gets no.
func TestApprovalNoElicitation(t *testing.T) {
	e := newEnv(t)
	for _, v := range []string{legacyVersion, ""} {
		s := startAsking(t, e, approvalConfig(e), &asker{version: v, noElicit: true})
		args, marker := marked(t)
		checkDenied(t, e, s.failCode("process_start", args, "CONFIRMATION_DENIED"), "cannot be asked")
		nothingStarted(t, e, marker)
		s.close()
	}
}

// TestApprovalCancelPending: a process_run whose question is pending ends
// with notifications/cancelled; nothing is launched.
func TestApprovalCancelPending(t *testing.T) {
	e := newEnv(t)
	cfg := approvalConfig(e)
	cfg["confirmationTimeoutSeconds"] = 60
	a := &asker{version: legacyVersion}
	asked := make(chan struct{}, 1)
	a.set(func(ctx context.Context, _ *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		asked <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	s := startAsking(t, e, cfg, a)
	args, marker := marked(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: "process_run", Arguments: args})
		errc <- err
	}()
	select {
	case <-asked:
	case <-time.After(20 * time.Second):
		t.Fatal("never asked")
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("cancelled call returned no error")
	}
	eventually(t, 10*time.Second, "approval deny record for the cancelled call", func() (bool, string) {
		for _, r := range recordsOf(e.auditRecords(t), "approval") {
			if r["decision"] == "deny" && strings.Contains(r["reason"].(string), "cancelled") {
				return true, ""
			}
		}
		return false, "no deny record"
	})
	nothingStarted(t, e, marker)
	// The session goes on.
	a.set(approve)
	var st status
	s.ok("process_run", map[string]any{"executable": "true"}, &st)
}

// TestApprovalMultiRoundTrip: a 2026-07-28 session is asked with an
// input_required result; the SDK's client loop answers it; a tampered,
// replayed or other request's requestState is refused.
func TestApprovalMultiRoundTrip(t *testing.T) {
	e := newEnv(t)
	t.Run("sdk loop", func(t *testing.T) {
		a := &asker{}
		s := startAsking(t, e, approvalConfig(e), a)
		a.set(approve)
		var st status
		s.ok("process_run", map[string]any{"executable": "true"}, &st)
		if len(a.questions()) != 1 {
			t.Errorf("%d questions, want 1", len(a.questions()))
		}
		a.set(func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		})
		args, marker := marked(t)
		checkDenied(t, e, s.failCode("process_start", args, "CONFIRMATION_DENIED"), "declined")
		nothingStarted(t, e, marker)
		found := false
		for _, r := range recordsOf(e.auditRecords(t), "approval") {
			found = found || r["channel"] == "mrtr-form"
		}
		if !found {
			t.Error("no approval record with channel mrtr-form")
		}
	})
	t.Run("raw", func(t *testing.T) {
		a := &asker{noMRTR: true}
		s := startAsking(t, e, approvalConfig(e), a)
		args, marker := marked(t)
		yes := mcp.InputResponseMap{"approval": &mcp.ElicitResult{Action: "accept", Content: map[string]any{"decision": "approve"}}}
		call := func(args any, responses mcp.InputResponseMap, state string) *mcp.CallToolResult {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: "process_start", Arguments: args, InputResponses: responses, RequestState: state})
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			return res
		}
		ask := func() string {
			t.Helper()
			res := call(args, nil, "")
			if !res.NeedsInput() || res.RequestState == "" {
				t.Fatalf("first round: not input_required: %+v", res)
			}
			ep, ok := res.InputRequests["approval"].(*mcp.ElicitParams)
			if !ok || !strings.Contains(ep.Message, marker) {
				t.Fatalf("input request %+v", res.InputRequests)
			}
			nothingStarted(t, e, marker)
			return res.RequestState
		}
		denied := func(res *mcp.CallToolResult, why string) {
			t.Helper()
			r, err := toToolResult(res)
			if err != nil || !r.IsError {
				t.Fatalf("want CONFIRMATION_DENIED, got %+v (%v)", res, err)
			}
			te, err := r.err()
			if err != nil {
				t.Fatal(err)
			}
			checkDenied(t, e, te, why)
			nothingStarted(t, e, marker)
		}
		// Tampered: one character of the signed state changed.
		st := ask()
		b := []byte(st)
		if b[3] == 'A' {
			b[3] = 'B'
		} else {
			b[3] = 'A'
		}
		denied(call(args, yes, string(b)), "not issued by this server or was altered")
		// Another request: the state of this call with other arguments.
		st = ask()
		denied(call(map[string]any{"executable": "sleep", "args": []string{"7"}}, yes, st), "another request")
		// No answer in the retry.
		st = ask()
		denied(call(args, nil, st), "no answer")
		// Approved once; the same answer replayed is refused.
		st = ask()
		r, err := toToolResult(call(args, yes, st))
		if err != nil || r.IsError {
			t.Fatalf("approved retry: %s %v", r.Text, err)
		}
		var sr startResult
		_ = json.Unmarshal(r.Structured, &sr)
		defer s.call("process_terminate", map[string]any{"pid": sr.Pid, "force": true})
		if len(running(marker)) != 1 {
			t.Errorf("approved process not running")
		}
		res := call(args, yes, st)
		rr, _ := toToolResult(res)
		te, _ := rr.err()
		checkDenied(t, e, te, "already used")
		if len(running(marker)) != 1 {
			t.Errorf("replay started a second process: %v", running(marker))
		}
	})
}

const approverToken = "e2e approver token"

func approverHash() string {
	sum := sha256.Sum256([]byte(approverToken))
	return hex.EncodeToString(sum[:])
}

func postDecision(t *testing.T, u, token, decision string) int {
	t.Helper()
	resp, err := http.PostForm(u, url.Values{"token": {token}, "decision": {decision}})
	if err != nil {
		t.Errorf("POST %s: %v", u, err)
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestApprovalURL: url mode over stdio. The client is asked to open a
// one-time link to the server's loopback approval page; only the approver
// token decides there, once.
func TestApprovalURL(t *testing.T) {
	e := newEnv(t)
	cfg := approvalConfig(e)
	cfg["approvalMode"] = "url"
	cfg["approverTokenSha256"] = approverHash()
	for _, v := range []string{legacyVersion, ""} {
		name := "mrtr"
		if v != "" {
			name = v
		}
		t.Run(name, func(t *testing.T) {
			a := &asker{version: v, caps: &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}}}
			s := startAsking(t, e, cfg, a)
			args, marker := marked(t)
			var link string
			// The person opens the link, tries a wrong token, then approves.
			a.set(func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				p := req.Params
				link = p.URL
				if p.Mode != "url" || !strings.HasPrefix(p.URL, "http://127.0.0.1:") {
					t.Errorf("elicitation %+v, want url mode with a loopback link", p)
				}
				go func() {
					resp, err := http.Get(p.URL)
					if err != nil {
						t.Errorf("GET page: %v", err)
						return
					}
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if !strings.Contains(string(body), "/usr/bin/sleep") || !strings.Contains(string(body), marker) {
						t.Errorf("page does not show the facts: %s", body)
					}
					nothingStarted(t, e, marker)
					if c := postDecision(t, p.URL, "wrong", "approve"); c != http.StatusForbidden {
						t.Errorf("wrong token: %d, want 403", c)
					}
					if c := postDecision(t, p.URL, approverToken, "approve"); c != http.StatusOK {
						t.Errorf("approve: %d", c)
					}
				}()
				return &mcp.ElicitResult{Action: "accept"}, nil // "I opened it": not an approval
			})
			r := s.start(args)
			defer s.call("process_terminate", map[string]any{"pid": r.Pid, "force": true})
			if c := postDecision(t, link, approverToken, "approve"); c != http.StatusGone {
				t.Errorf("reused link: %d, want 410", c)
			}
			if strings.Contains(s.stderr.String(), link) {
				t.Error("the one-time link is in the server's log")
			}
			// The client's accept alone approves nothing: the page denies.
			args2, marker2 := marked(t)
			a.set(func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				go postDecision(t, req.Params.URL, approverToken, "deny")
				return &mcp.ElicitResult{Action: "accept"}, nil
			})
			checkDenied(t, e, s.failCode("process_start", args2, "CONFIRMATION_DENIED"), "denied on the approval page")
			nothingStarted(t, e, marker2)
		})
	}
}

// TestApprovalAutoApprove: after N approved launches of the same resolved
// executable by the same agent the server stops asking, and says so in
// the audit log.
func TestApprovalAutoApprove(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("sleep", "true")
	cfg["requireConfirmationFor"] = []string{"true"}
	cfg["autoApproveAfterCount"] = 2
	a := &asker{version: legacyVersion}
	a.set(approve)
	s := startAsking(t, e, cfg, a)
	var st status
	for range 4 {
		s.ok("process_run", map[string]any{"executable": "true"}, &st)
	}
	s.ok("process_run", map[string]any{"executable": "/usr/bin/true"}, &st)
	r := s.start(map[string]any{"executable": "sleep", "args": []string{"30"}}) // not in requireConfirmationFor
	s.call("process_terminate", map[string]any{"pid": r.Pid, "force": true})
	if n := len(a.questions()); n != 2 {
		t.Errorf("%d questions, want 2", n)
	}
	auto := 0
	for _, rec := range recordsOf(e.auditRecords(t), "approval") {
		if rec["channel"] == "auto" && rec["decision"] == "allow" {
			auto++
			if !strings.Contains(rec["reason"].(string), "approved 2 launches") {
				t.Errorf("auto record reason %q", rec["reason"])
			}
		}
	}
	if auto != 3 {
		t.Errorf("%d auto approvals recorded, want 3", auto)
	}
}

// TestApprovalTermination: requireTerminationConfirmation; a declined
// termination leaves the process running.
func TestApprovalTermination(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("sleep")
	cfg["requireTerminationConfirmation"] = true
	// A refusal is a security violation, and so an alert.
	alerts := make(chan string, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		alerts <- string(b)
	}))
	defer hook.Close()
	cfg["enableSecurityAlerts"] = true
	cfg["securityAlertWebhook"] = hook.URL
	cfg["securityAlertWebhookSecret"] = "s3cret"
	a := &asker{version: legacyVersion}
	s := startAsking(t, e, cfg, a)
	r := s.start(map[string]any{"executable": "sleep", "args": []string{"60"}})
	if len(a.questions()) != 0 {
		t.Fatal("a launch was asked about")
	}
	a.set(func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		return &mcp.ElicitResult{Action: "decline"}, nil
	})
	checkDenied(t, e, s.failCode("process_terminate", map[string]any{"pid": r.Pid}, "CONFIRMATION_DENIED"), "declined")
	select {
	case al := <-alerts:
		if !strings.Contains(al, "CONFIRMATION_DENIED") {
			t.Errorf("alert %s", al)
		}
	case <-time.After(10 * time.Second):
		t.Error("no alert for the refused termination")
	}
	if !alive(r.Pid) {
		t.Fatal("declined termination killed the process")
	}
	if q := a.questions()[0].Message; !strings.Contains(q, "/usr/bin/sleep") || !strings.Contains(q, "pid") {
		t.Errorf("question %q", q)
	}
	a.set(approve)
	var tr terminateResult
	s.ok("process_terminate", map[string]any{"pid": r.Pid}, &tr)
	waitGone(t, r.Pid, 10*time.Second, false)
}

// TestApprovalProfileMaximum: the maximum profile (the seed's Maximum
// Security example) gets past the approval layer; what still refuses it
// is another layer.
func TestApprovalProfileMaximum(t *testing.T) {
	e := newEnv(t)
	if _, errOut, code := runCLI(t, e, "", nil, "validate", "--profile", "maximum"); code != 0 || strings.Contains(errOut, "LAYER_UNAVAILABLE") {
		t.Errorf("maximum refused (exit %d): %s", code, errOut)
	}
	over := e.writeConfig(t, "over.json", map[string]any{"blockNetworkAccess": false, "enableChroot": false})
	if _, errOut, code := runCLI(t, e, "", nil, "validate", "--profile", "maximum", "--config", over); code != 0 {
		t.Errorf("maximum with network and jail off: exit %d: %s", code, errOut)
	}
}

// TestApprovalURLOverHTTP: with serve --http the approval page is served
// on the same listener; the agent's bearer token is not the approver
// token.
func TestApprovalURLOverHTTP(t *testing.T) {
	e := newEnv(t)
	const agentToken = "agent-bearer-token"
	cfg := approvalConfig(e)
	cfg["approvalMode"] = "url"
	cfg["approverTokenSha256"] = approverHash()
	cfg["agents"] = []map[string]any{{"id": "bot", "tokenSha256": tokenHash(agentToken)}}
	_, endpoint := startHTTPServer(t, e, cfg)
	args, marker := marked(t)
	handler := func(ctx context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		p := req.Params
		if want := strings.TrimSuffix(endpoint, "/mcp") + "/approval/"; !strings.HasPrefix(p.URL, want) {
			t.Errorf("link %q, want one under %s", p.URL, want)
		}
		go func() {
			nothingStarted(t, e, marker)
			if c := postDecision(t, p.URL, agentToken, "approve"); c != http.StatusForbidden {
				t.Errorf("the agent's own token on the page: %d, want 403", c)
			}
			postDecision(t, p.URL, approverToken, "approve")
		}()
		return &mcp.ElicitResult{Action: "accept"}, nil
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "e2e-http", Version: "1"}, &mcp.ClientOptions{
		ElicitationHandler: handler,
		Capabilities:       &mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapabilities{URL: &mcp.URLElicitationCapabilities{}}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: endpoint, HTTPClient: &http.Client{Transport: bearer{agentToken}}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "process_start", Arguments: args})
	if err != nil {
		t.Fatal(err)
	}
	r, err := toToolResult(res)
	if err != nil || r.IsError {
		t.Fatalf("process_start: %s %v", r.Text, err)
	}
	var sr startResult
	_ = json.Unmarshal(r.Structured, &sr)
	if len(running(marker)) != 1 {
		t.Error("approved process is not running")
	}
	_, _ = cs.CallTool(ctx, &mcp.CallToolParams{Name: "process_terminate", Arguments: map[string]any{"pid": sr.Pid, "force": true}})
}
