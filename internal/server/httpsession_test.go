package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// httpSessionServer serves two agents over HTTP with a debug logger whose
// output the test can search.
func httpSessionServer(t *testing.T, idle int64) (*httptest.Server, *memRecorder, *lockedBuffer) {
	t.Helper()
	cfg := testConfig(t)
	cfg.Agents = []config.Agent{{ID: "alice", TokenSha256: sha("alice-token")}, {ID: "bob", TokenSha256: sha("bob-token")}}
	cfg.HTTPSessionIdleSeconds = idle
	rec := &memRecorder{}
	logs := &lockedBuffer{}
	pol := newTestServer(t, cfg, rec) // for its supervisor and cleanup
	s := New(Options{Config: cfg, Policy: pol.opts.Policy, Supervisor: pol.opts.Supervisor, Audit: rec, Layers: map[string]string{},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(s.Close)
	hs := httptest.NewServer(s.HTTPHandler())
	t.Cleanup(hs.Close)
	return hs, rec, logs
}

func dialAs(t *testing.T, url, token string) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "http-client", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: url,
		HTTPClient: &http.Client{Transport: bearerTransport{token}}, MaxRetries: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func rawHTTP(t *testing.T, method, url, token, sid, body string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("%s: %v", method, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Another agent's POST, GET and DELETE on a session id are 404 and audit
// records; the owner's session goes on; the id is in no log or record.
func TestHTTPSessionBelongsToItsAgent(t *testing.T) {
	hs, rec, logs := httpSessionServer(t, 600)
	alice := dialAs(t, hs.URL, "alice-token")
	sid := alice.ID()
	if sid == "" {
		t.Fatal("no session id")
	}
	ping := `{"jsonrpc":"2.0","id":99,"method":"tools/list","params":{}}`
	for _, m := range []struct{ method, body string }{{http.MethodPost, ping}, {http.MethodGet, ""}, {http.MethodDelete, ""}} {
		if code := rawHTTP(t, m.method, hs.URL, "bob-token", sid, m.body); code != http.StatusNotFound {
			t.Errorf("bob's %s on alice's session: %d, want 404", m.method, code)
		}
	}
	if code := rawHTTP(t, http.MethodPost, hs.URL, "bob-token", "no-such-session", ping); code != http.StatusNotFound {
		t.Errorf("a session id never handed out: %d, want 404", code)
	}
	rec.mu.Lock()
	n := 0
	for _, r := range rec.recs {
		if r.Layer == "http-session" {
			n++
			if r.Agent != "bob" || r.Event != audit.EventSecurityViolation || r.Decision != "deny" {
				t.Errorf("record %+v", r)
			}
		}
		if strings.Contains(r.Reason, sid) {
			t.Errorf("a record carries the session id: %+v", r)
		}
	}
	rec.mu.Unlock()
	if n != 3 {
		t.Errorf("%d http-session records, want 3 (POST, GET, DELETE)", n)
	}
	if _, err := alice.ListTools(context.Background(), nil); err != nil {
		t.Fatalf("alice's session after bob's attempts: %v", err)
	}
	if code := rawHTTP(t, http.MethodPost, hs.URL, "alice-token", sid, ping); code != http.StatusOK {
		t.Errorf("alice's own POST on her session: %d, want 200", code)
	}
	if logs.String() == "" {
		t.Fatal("the SDK logged nothing: the check below would prove nothing")
	}
	if strings.Contains(logs.String(), sid) {
		t.Errorf("the session id appears in the log:\n%s", logs)
	}
}

// A session closes after httpSessionIdleSeconds without a request.
func TestHTTPSessionExpires(t *testing.T) {
	hs, _, _ := httpSessionServer(t, 1)
	alice := dialAs(t, hs.URL, "alice-token")
	sid := alice.ID()
	ping := `{"jsonrpc":"2.0","id":99,"method":"tools/list","params":{}}`
	if code := rawHTTP(t, http.MethodPost, hs.URL, "alice-token", sid, ping); code != http.StatusOK {
		t.Fatalf("fresh session: %d", code)
	}
	time.Sleep(2500 * time.Millisecond)
	if code := rawHTTP(t, http.MethodPost, hs.URL, "alice-token", sid, ping); code != http.StatusNotFound {
		t.Errorf("after 2.5 s idle with httpSessionIdleSeconds 1: %d, want 404", code)
	}
}
