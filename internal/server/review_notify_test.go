package server

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Review: the notifier keys subscriptions by the parsed (pid, stream), the
// SDK by the URI as sent. A session subscribed to process://PID/stdout that
// also subscribes to and then unsubscribes from an alias of it
// (process://0PID/stdout, which parseOutputURI accepts) still holds its
// SDK subscription to process://PID/stdout, but the notifier forgot it:
// it never hears of new output again.
func TestReviewUnsubscribeAliasDropsSubscription(t *testing.T) {
	cfg := testConfig(t)
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, "/bin/cat", "/usr/bin/cat")
	s := newTestServer(t, cfg, &memRecorder{})
	var (
		mu      sync.Mutex
		updated []string
	)
	heard := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(updated)
	}
	cs := connectClient(t, s, &mcp.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
		mu.Lock()
		updated = append(updated, req.Params.URI)
		mu.Unlock()
	}})
	res, m := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/cat"})
	if res.IsError {
		t.Fatalf("start cat: %v", m)
	}
	pid := m["pid"]
	uri, alias := fmt.Sprintf("process://%v/stdout", pid), fmt.Sprintf("process://0%v/stdout", pid)
	ctx := context.Background()
	for _, u := range []string{uri, alias} {
		if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: u}); err != nil {
			t.Fatalf("subscribe %s: %v", u, err)
		}
	}
	waitSubscribed(t, s, uri, true)
	if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: alias}); err != nil {
		t.Fatalf("unsubscribe %s: %v", alias, err)
	}
	time.Sleep(100 * time.Millisecond)
	if res, m := callTool(t, cs, "process_send_stdin", map[string]any{"pid": pid, "data": "ping\n"}); res.IsError {
		t.Fatalf("send_stdin: %v", m)
	}
	deadline := time.Now().Add(3 * time.Second)
	for !slices.Contains(heard(), uri) {
		if time.Now().After(deadline) {
			t.Fatalf("still subscribed to %s, but no notifications/resources/updated for it (heard %v)", uri, heard())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
