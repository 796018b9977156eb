package server

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// OnOutput is the supervisor's output callback: it schedules
// notifications/resources/updated for process://{pid}/{stream}. Never blocks.
func (s *Server) OnOutput(pid int, stream string) {
	s.notifier.OnOutput(pid, stream)
}

// OnStateChange is the supervisor's process start/exit callback: with
// ListResources it lists and unlists the process's output resources.
// Never blocks.
func (s *Server) OnStateChange(agent string, pid int, running bool) {
	if s.opts.ListResources {
		s.notifier.OnStateChange(pid, running)
	}
}

func (s *Server) sendUpdated(uri string) {
	ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
	defer cancel()
	_ = s.mcp.ResourceUpdated(ctx, &mcp.ResourceUpdatedNotificationParams{URI: uri})
}

// Close stops the server's own goroutines (not the supervisor's processes:
// the caller shuts the supervisor down).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.notifier.close()
		s.clientLog.close()
	})
}

// ServeStdio serves one MCP session over in/out (the process's standard input and output in
// production) until the client closes its end or ctx is cancelled. A
// malformed line is answered with a JSON-RPC error and the session goes on
// (see lineFilter and stdioTransport).
func (s *Server) ServeStdio(ctx context.Context, in io.ReadCloser, out io.WriteCloser) error {
	return s.serveStdio(ctx, in, out, newAnswers())
}

// serveStdio is ServeStdio with the session's pre-encoded answers
// (preencode.go), which the handlers find in their context.
func (s *Server) serveStdio(ctx context.Context, in io.ReadCloser, out io.WriteCloser, a *answers) error {
	ctx = context.WithValue(ctx, answersKey{}, a)
	return s.mcp.Run(ctx, &stdioTransport{in: in, out: &lockedWriter{w: out}, logger: s.opts.Logger, answers: a})
}

// HTTPHandler serves MCP over Streamable HTTP at any path it is mounted on.
// With agents configured, every request needs "Authorization: Bearer
// TOKEN" of a configured agent (401 otherwise); without agents, the caller
// must bind loopback only (SPEC 6) and every request is agent "local".
// The SDK's DNS-rebinding protection (Host/Origin checks for localhost)
// stays on. Sessions expire after httpSessionIdleSeconds without a request
// and belong to the agent that opened them (httpsession.go).
func (s *Server) HTTPHandler() http.Handler {
	idle := time.Duration(s.cfg.HTTPSessionIdleSeconds) * time.Second
	if idle <= 0 {
		idle = 600 * time.Second
	}
	// Cross-origin browser requests that change state (a page another
	// site serves posting to this server) are refused with 403. A session
	// closes after httpSessionIdleSeconds without a request and answers
	// only the agent that opened it (sessionGuard).
	// Streams are resumable (sseresume.go), the stream of a session's
	// initialize too (opening.go).
	h := http.NewCrossOriginProtection().Handler(s.sessionGuard(withRetryHint(keepOpening(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.mcp },
			&mcp.StreamableHTTPOptions{SessionTimeout: idle, EventStore: s.events})))))
	if len(s.tokens) == 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := s.agentForHeader(r.Header.Get("Authorization")); !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mcp-process"`)
			http.Error(w, "missing or unknown bearer token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}
