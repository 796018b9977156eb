package server

import (
	"bufio"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/config"
)

// A client whose connection drops after the first bytes of its initialize
// stream (the session id, the retry field, the priming event) and before
// the answer resumes the stream with GET and Last-Event-ID and receives
// the answer: the session is not closed under it. (Seen as a conformance
// scenario whose initialize was never answered: the test's proxy cut such
// streams; the SDK closed the session when the POST ended before the
// initialize was handled, and the resuming GET got 404.)
//
// The server holds each initialize until the client has gone and its
// POST's context is done, and until the handler of that POST has returned
// (what the SDK does then is what this test checks) or a moment has
// passed (it does not return: the fix).
func TestHTTPInitializeAnsweredAfterClientDrops(t *testing.T) {
	cfg := testConfig(t)
	cfg.Agents = []config.Agent{{ID: "alice", TokenSha256: sha("alice-token")}}
	pol := newTestServer(t, cfg, &memRecorder{})
	s := New(Options{Config: cfg, Policy: pol.opts.Policy, Supervisor: pol.opts.Supervisor, Audit: &memRecorder{},
		Layers: map[string]string{}, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Close)

	type opening struct{ gone, returned chan struct{} }
	openings := make(chan opening, 1)
	s.mcp.AddReceivingMiddleware(func(next mcp.MethodHandler) mcp.MethodHandler {
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			if method == "initialize" {
				o := <-openings
				<-o.gone
				select {
				case <-o.returned:
				case <-time.After(300 * time.Millisecond):
				}
			}
			return next(ctx, method, req)
		}
	})
	h := s.HTTPHandler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get(sessionHeader) != "" {
			h.ServeHTTP(w, r)
			return
		}
		o := opening{gone: make(chan struct{}), returned: make(chan struct{})}
		context.AfterFunc(r.Context(), func() { close(o.gone) })
		openings <- o
		h.ServeHTTP(w, r)
		close(o.returned)
	}))
	t.Cleanup(hs.Close)

	const rounds = 5
	for i := range rounds {
		callCtx, drop := context.WithCancel(context.Background())
		resp := sseRequest(t, callCtx, "POST", hs.URL, "", "",
			`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"drop","version":"1"}}}`)
		sid := resp.Header.Get(sessionHeader)
		sc := bufio.NewScanner(resp.Body)
		if first, ok := readEvent(sc); !ok || first.retry == "" {
			t.Fatalf("round %d: first block %+v, want the retry field", i, first)
		}
		prime, ok := readEvent(sc)
		if !ok || prime.id == "" || sid == "" {
			t.Fatalf("round %d: session %q, second block %+v: want a session id and a priming event", i, sid, prime)
		}
		drop() // the connection is lost before the answer
		resp.Body.Close()

		if got := resumeFor(t, hs.URL, sid, prime.id, `"id":1`); !strings.Contains(got, `"protocolVersion"`) {
			t.Fatalf("round %d: initialize never answered after the client dropped its stream: %s", i, got)
		}
	}
}

// resumeFor resumes stream lastID of session sid (GET with Last-Event-ID)
// until an event containing want arrives, and returns its data or what
// the server answered instead. A 409 (the stream is still held by its
// POST) is retried a few times, as clients do after the retry delay.
func resumeFor(t *testing.T, url, sid, lastID, want string) string {
	t.Helper()
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp := sseRequest(t, ctx, "GET", url, sid, lastID, "")
		if resp.StatusCode == http.StatusConflict && attempt < 20 {
			resp.Body.Close()
			cancel()
			time.Sleep(50 * time.Millisecond)
			continue
		}
		defer cancel()
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return "GET with Last-Event-ID: " + resp.Status
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for {
			e, ok := readEvent(sc)
			if !ok {
				return "the resumed stream ended without the answer"
			}
			if strings.Contains(e.data, want) {
				return e.data
			}
		}
	}
}
