package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sessions opened at the same time by one agent all stay that agent's:
// recording one session's owner never forgets another's recorded
// meanwhile (that session's next request was answered 404).
func TestHTTPConcurrentSessionsKeepTheirOwner(t *testing.T) {
	hs, _, _ := httpSessionServer(t, 600)
	post := func(sid, body string) (*http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer alice-token")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
		if sid != "" {
			req.Header.Set(sessionHeader, sid)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	const rounds, parallel = 10, 16
	for round := range rounds {
		var wg sync.WaitGroup
		results := make([]string, parallel)
		for i := range parallel {
			wg.Go(func() {
				resp, err := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"many","version":"1"}}}`)
				if err != nil {
					results[i] = err.Error()
					return
				}
				if resp, err = post(resp.Header.Get(sessionHeader), `{"jsonrpc":"2.0","method":"notifications/initialized"}`); err != nil {
					results[i] = err.Error()
					return
				}
				results[i] = fmt.Sprint(resp.StatusCode)
			})
		}
		wg.Wait()
		for i, r := range results {
			if r != "202" {
				t.Fatalf("round %d, session %d: notifications/initialized answered %s, want 202", round, i, r)
			}
		}
	}
}
