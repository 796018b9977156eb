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

// An output resource has one name: an alias of process://PID/stdout
// (process://0PID/stdout, +PID) is refused, so subscribing to or
// unsubscribing from it touches nothing of the real subscription, which
// keeps hearing new output.
func TestOutputURIAliasesAreRefused(t *testing.T) {
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
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uri}); err != nil {
		t.Fatalf("subscribe %s: %v", uri, err)
	}
	for _, a := range []string{alias, fmt.Sprintf("process://+%v/stdout", pid)} {
		// Refused by the handler; a client on the 2026-07-28 protocol
		// hears of it on its subscriptions/listen stream, not here.
		_ = cs.Subscribe(ctx, &mcp.SubscribeParams{URI: a})
		if _, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: a}); err == nil {
			t.Fatalf("read of the alias %s accepted", a)
		}
	}
	waitSubscribed(t, s, uri, true)
	_ = cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: alias}) // names nothing: the subscription stands
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

// A process that ended has no more output: its subscriptions are
// forgotten, so a later process given the same pid (another agent's,
// perhaps) is not announced to the sessions that subscribed to the first.
func TestOutputSubscriptionsEndWithTheProcess(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	n := newOutputNotifier(func(uri string) { mu.Lock(); sent = append(sent, uri); mu.Unlock() }, func(resourceOp) {})
	defer n.close()
	ss := &mcp.ServerSession{}
	n.subscribe(ss, outputKey{pid: 4242, stream: "stdout"}, map[*mcp.ServerSession]bool{ss: true})
	n.OnOutput(4242, "stdout")
	if q := n.queued.Load(); q != 1 {
		t.Fatalf("output of a subscribed stream queued %d notifications, want 1", q)
	}
	// Sent (and so no longer pending) before the process ends.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		done := len(sent) == 1
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscribed stream's notification was never sent")
		}
	}
	n.OnStateChange(4242, false)
	n.OnStateChange(4242, true) // the pid reused
	n.OnOutput(4242, "stdout")
	if q := n.queued.Load(); q != 1 {
		t.Fatalf("output of a new process with an ended one's pid queued a notification for the old subscription (%d)", q)
	}
}
