package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// HTTP sessions belong to the agent that opened them (SPEC 7.2). The SDK
// keys a session by its Mcp-Session-Id alone; sessionGuard remembers, for
// every session id the SDK hands out, the agent whose request created it,
// and answers any request carrying that id from another agent — or an id
// it never handed out — with 404, as for a session that does not exist,
// recording the attempt (never the id). The SDK closes a session after
// httpSessionIdleSeconds without a request (StreamableHTTPOptions.
// SessionTimeout); ids of sessions it no longer has are forgotten here.

const sessionHeader = "Mcp-Session-Id"

type sessionOwners struct {
	mu    sync.Mutex
	owner map[string]string // session id -> agent
}

// httpAgent is the agent of an HTTP request (the bearer check has passed).
func (s *Server) httpAgent(r *http.Request) string {
	if id, ok := s.agentForHeader(r.Header.Get("Authorization")); ok {
		return id
	}
	if len(s.tokens) == 0 {
		return "local"
	}
	return "unauthenticated"
}

func (s *Server) sessionGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		agent := s.httpAgent(r)
		sid := r.Header.Get(sessionHeader)
		if sid == "" {
			// A request that may open a session: note whose it is as the
			// SDK answers with its id.
			next.ServeHTTP(&sessionCapture{ResponseWriter: w, onHeader: func(h http.Header) {
				if id := h.Get(sessionHeader); id != "" {
					s.ownSession(id, agent)
				}
			}}, r)
			return
		}
		s.sessions.mu.Lock()
		owner, known := s.sessions.owner[sid]
		s.sessions.mu.Unlock()
		if !known || owner != agent {
			if known {
				_ = s.record(audit.Record{Level: audit.LevelWarn, Event: audit.EventSecurityViolation, Agent: agent,
					Decision: "deny", Layer: layer.HTTPSession.String(),
					Reason: r.Method + " on an HTTP session another agent opened: answered 404 as an unknown session"})
			}
			http.Error(w, "session not found", http.StatusNotFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ownSession records agent as the owner of session id, first forgetting
// the ids of sessions the SDK has closed (expired or deleted). The live
// sessions are listed under the lock: an owner recorded meanwhile by
// another request (its session is live before that) is not forgotten.
func (s *Server) ownSession(id, agent string) {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	live := map[string]bool{}
	for ss := range s.mcp.Sessions() {
		live[ss.ID()] = true
	}
	if s.sessions.owner == nil {
		s.sessions.owner = map[string]string{}
	}
	for k := range s.sessions.owner {
		if !live[k] {
			delete(s.sessions.owner, k)
		}
	}
	s.sessions.owner[id] = agent
}

// sessionCapture calls onHeader once, just before the response header is
// sent. It keeps the writer's other abilities (Flush for event streams)
// through Unwrap (http.ResponseController).
type sessionCapture struct {
	http.ResponseWriter
	onHeader func(http.Header)
	done     bool
}

func (c *sessionCapture) header() {
	if !c.done {
		c.done = true
		c.onHeader(c.ResponseWriter.Header())
	}
}

func (c *sessionCapture) WriteHeader(code int) {
	c.header()
	c.ResponseWriter.WriteHeader(code)
}

func (c *sessionCapture) Write(b []byte) (int, error) {
	c.header()
	return c.ResponseWriter.Write(b)
}

func (c *sessionCapture) Flush() {
	c.header()
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *sessionCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// noSessionIDs is a slog.Handler that blanks session ids: the SDK logs
// them ("session_id") and they are bearer secrets of a session (SPEC 7.2:
// session ids never appear in logs).
type noSessionIDs struct{ slog.Handler }

func (h noSessionIDs) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(blankSessionID(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h noSessionIDs) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = blankSessionID(a)
	}
	return noSessionIDs{h.Handler.WithAttrs(clean)}
}

func (h noSessionIDs) WithGroup(name string) slog.Handler {
	return noSessionIDs{h.Handler.WithGroup(name)}
}

func blankSessionID(a slog.Attr) slog.Attr {
	switch {
	case a.Value.Kind() == slog.KindGroup:
		g := a.Value.Group()
		clean := make([]any, len(g))
		for i, x := range g {
			clean[i] = blankSessionID(x)
		}
		return slog.Group(a.Key, clean...)
	case a.Key == "session_id" || a.Key == "sessionId" || a.Key == "sessionID":
		return slog.String(a.Key, audit.Redacted)
	}
	return a
}
