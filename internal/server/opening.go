package server

import (
	"context"
	"net/http"
	"time"
)

// A session's initialize is answered even if its client goes away in the
// middle of the POST that opens it.
//
// The SDK closes a new session whose opening POST (no Mcp-Session-Id)
// ends before the session's initialize has been handled. That POST's
// response starts (the session id header, the retry field and the
// priming event) before the initialize is handled; a client whose
// connection drops just then — or whose proxy cuts the stream — resumes it
// with GET and Last-Event-ID as it should, and was answered 404: the
// session was gone and its initialize never answered (the client waited
// for its own time-out). So such a POST is served with a context that the
// client's going away does not cancel: the SDK waits for the initialize's
// answer (kept in the event store, replayed on resumption) and keeps the
// session. The wait stays bounded: openingGrace after the client has gone,
// the context is cancelled anyway.

// openingGrace bounds how long an opening POST outlives its client.
// Handling initialize takes microseconds; this is a backstop.
const openingGrace = 5 * time.Second

// keepOpening serves POSTs without a session id with a context detached
// from the client's connection (bounded by openingGrace); every other
// request is passed on unchanged.
func keepOpening(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get(sessionHeader) != "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
		defer cancel()
		// Runs once the client has gone (or this handler returned, which
		// cancels ctx first): it ends with ctx, at the latest when this
		// handler returns.
		stop := context.AfterFunc(r.Context(), func() {
			grace := time.NewTimer(openingGrace)
			defer grace.Stop()
			select {
			case <-ctx.Done():
			case <-grace.C:
				cancel()
			}
		})
		defer stop()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
