package server

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Resumable HTTP streams. Every event the server sends on an SSE stream
// (progress, log messages, the tool result) gets an id and is kept in an
// event store bounded to eventStoreBytes for the whole server (the oldest
// events are dropped first); a client that loses its connection
// mid-call reconnects with GET and Last-Event-ID and receives what it
// missed, then the rest. Each SSE response starts with a retry field
// (sseRetryMillis) so clients know when to reconnect. Only the agent that
// opened a session can resume its streams (sessionGuard answers 404 to
// anyone else).
//
// What this does not do: events older than what the bounded store keeps
// are gone (the client then sees the stream end without them), and
// nothing survives a server restart (sessions do not either).

const (
	eventStoreBytes = 8 << 20 // 8 MiB for all sessions together
	sseRetryMillis  = 1000
)

func newEventStore() *mcp.MemoryEventStore {
	s := mcp.NewMemoryEventStore(nil)
	s.SetMaxBytes(eventStoreBytes)
	return s
}

// withRetryHint writes "retry: sseRetryMillis" at the head of every SSE
// response (a field-only block: clients dispatch no event for it).
func withRetryHint(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&retryHint{ResponseWriter: w}, r)
	})
}

type retryHint struct {
	http.ResponseWriter
	headerSent bool
}

func (h *retryHint) WriteHeader(code int) {
	if h.headerSent {
		h.ResponseWriter.WriteHeader(code)
		return
	}
	h.headerSent = true
	h.ResponseWriter.WriteHeader(code)
	if code == http.StatusOK && strings.HasPrefix(h.Header().Get("Content-Type"), "text/event-stream") {
		_, _ = h.ResponseWriter.Write([]byte("retry: " + strconv.Itoa(sseRetryMillis) + "\n\n"))
	}
}

func (h *retryHint) Write(b []byte) (int, error) {
	if !h.headerSent {
		h.WriteHeader(http.StatusOK)
	}
	return h.ResponseWriter.Write(b)
}

func (h *retryHint) Flush() {
	if !h.headerSent {
		h.WriteHeader(http.StatusOK)
	}
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (h *retryHint) Unwrap() http.ResponseWriter { return h.ResponseWriter }
