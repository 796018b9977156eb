package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sseRequest sends one MCP message as alice and returns the response (the
// caller reads and closes its body).
func sseRequest(t *testing.T, ctx context.Context, method, url, sid, lastID, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer alice-token")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// sseEvent is one parsed event of a stream (fields the test needs).
type sseEvent struct{ id, retry, data string }

func readEvent(sc *bufio.Scanner) (sseEvent, bool) {
	var e sseEvent
	seen := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if seen {
				return e, true
			}
			continue
		}
		seen = true
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimPrefix(v, " ")
		switch k {
		case "id":
			e.id = v
		case "retry":
			e.retry = v
		case "data":
			e.data += v
		}
	}
	return e, false
}

// A client that loses its connection in the middle of process_run
// reconnects with Last-Event-ID and still receives the result produced
// while it was away; the stream announces its retry delay.
func TestHTTPStreamResumesAfterDisconnect(t *testing.T) {
	hs, _, _ := httpSessionServer(t, 600)
	url := hs.URL
	ctx := context.Background()

	resp := sseRequest(t, ctx, "POST", url, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"resume","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	// Wait for the answer, as a client must: the stream's first bytes
	// (with the session id) are sent before the initialize is handled.
	for sc := bufio.NewScanner(resp.Body); ; {
		e, ok := readEvent(sc)
		if !ok {
			t.Fatal("the initialize stream ended without its answer")
		}
		if strings.Contains(e.data, `"id":1`) {
			break
		}
	}
	resp.Body.Close()
	if sid == "" {
		t.Fatal("no session id")
	}
	sseRequest(t, ctx, "POST", url, sid, "", `{"jsonrpc":"2.0","method":"notifications/initialized"}`).Body.Close()

	callCtx, drop := context.WithCancel(ctx)
	resp = sseRequest(t, callCtx, "POST", url, sid, "",
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"process_run","arguments":{"executable":"sleep","args":["1"]}}}`)
	sc := bufio.NewScanner(resp.Body)
	first, ok := readEvent(sc)
	if !ok || first.retry != "1000" {
		t.Fatalf("first block of the stream = %+v, want a retry field of 1000 ms", first)
	}
	prime, ok := readEvent(sc)
	if !ok || prime.id == "" || prime.data != "" {
		t.Fatalf("second block = %+v, want a priming event with an id and no data", prime)
	}
	drop() // the connection is lost before the result
	resp.Body.Close()

	time.Sleep(1500 * time.Millisecond) // the command ends while nobody listens
	resp = sseRequest(t, ctx, "GET", url, sid, prime.id, "")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET with Last-Event-ID: status %d", resp.StatusCode)
	}
	sc = bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	deadline := time.AfterFunc(10*time.Second, func() { resp.Body.Close() })
	defer deadline.Stop()
	for {
		e, ok := readEvent(sc)
		if !ok {
			t.Fatal("the resumed stream ended without the tool result")
		}
		if strings.Contains(e.data, `"id":2`) {
			if !strings.Contains(e.data, `"exitCode":0`) {
				t.Fatalf("replayed result: %s", e.data)
			}
			return
		}
	}
}

// Another agent cannot resume a stream of alice's session.
func TestHTTPStreamResumeIsTheOwnersOnly(t *testing.T) {
	hs, _, _ := httpSessionServer(t, 600)
	ctx := context.Background()
	resp := sseRequest(t, ctx, "POST", hs.URL, "", "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"resume","version":"1"}}}`)
	sid := resp.Header.Get("Mcp-Session-Id")
	resp.Body.Close()
	req, _ := http.NewRequest("GET", hs.URL, nil)
	req.Header.Set("Authorization", "Bearer bob-token")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Last-Event-ID", "x_0")
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusNotFound {
		t.Fatalf("bob resuming alice's stream: status %d, want 404", r2.StatusCode)
	}
}
