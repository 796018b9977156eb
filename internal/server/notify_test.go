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

// A subscriber to process://PID/stdout hears notifications/resources/updated
// when output arrives; output of a stream nobody subscribed to (never, or no
// longer) queues no notifier work and sends nothing.
func TestOutputUpdatesOnlyForSubscribers(t *testing.T) {
	s, cs, heard, start := catListener(t)
	// echo writes line to pid's stdin and waits until the server holds the
	// output (the reader has called OnOutput for it).
	echo := func(pid any, line string, want string) {
		if res, m := callTool(t, cs, "process_send_stdin", map[string]any{"pid": pid, "data": line}); res.IsError {
			t.Fatalf("send_stdin: %v", m)
		}
		waitFor(t, "cat's output", func() bool {
			_, m := callTool(t, cs, "process_get_output", map[string]any{"pid": pid, "stream": "stdout"})
			return m["stdout"] == want
		})
	}
	a, b := start(), start()
	uriA, uriB := fmt.Sprintf("process://%v/stdout", a), fmt.Sprintf("process://%v/stdout", b)
	ctx := context.Background()
	if err := cs.Subscribe(ctx, &mcp.SubscribeParams{URI: uriA}); err != nil {
		t.Fatalf("subscribe %s: %v", uriA, err)
	}
	// Over subscriptions/listen (protocol 2026-07-28) Subscribe returns
	// before the server has the subscription, and Unsubscribe before it has
	// ended it.
	waitSubscribed(t, s, uriA, true)

	echo(b, "unheard\n", "unheard\n")
	if q := s.notifier.queued.Load(); q != 0 {
		t.Errorf("output of %s, which nobody subscribed to, queued %d notifications", uriB, q)
	}

	echo(a, "ping\n", "ping\n")
	waitFor(t, "notifications/resources/updated for "+uriA, func() bool { return slices.Contains(heard(), uriA) })
	if s.notifier.queued.Load() == 0 {
		t.Error("the subscriber was notified without the notifier counting it")
	}

	if err := cs.Unsubscribe(ctx, &mcp.UnsubscribeParams{URI: uriA}); err != nil {
		t.Fatalf("unsubscribe %s: %v", uriA, err)
	}
	waitSubscribed(t, s, uriA, false)
	before, n := s.notifier.queued.Load(), len(heard())
	echo(a, "pong\n", "ping\npong\n")
	echo(b, "again\n", "unheard\nagain\n")
	time.Sleep(100 * time.Millisecond) // a notification sent anyway would arrive by now
	if q := s.notifier.queued.Load(); q != before {
		t.Errorf("output after unsubscribing queued %d notifications", q-before)
	}
	if got := heard(); len(got) != n || slices.Contains(got, uriB) {
		t.Errorf("notified after unsubscribing, or of an unsubscribed stream: %v", got)
	}
}

// A session that ended is forgotten (its subscriptions no longer make
// output cost notifier work) once another session subscribes; a live
// session's subscription is kept.
func TestOutputSubscriptionsOfEndedSessionsForgotten(t *testing.T) {
	s := newTestServer(t, testConfig(t), &memRecorder{})
	gone, kept := connectClient(t, s, nil), connectClient(t, s, nil)
	ctx := context.Background()
	for _, c := range []struct {
		cs  *mcp.ClientSession
		uri string
	}{{gone, "process://100/stdout"}, {kept, "process://200/stderr"}} {
		if err := c.cs.Subscribe(ctx, &mcp.SubscribeParams{URI: c.uri}); err != nil {
			t.Fatal(err)
		}
		waitSubscribed(t, s, c.uri, true)
	}
	gone.Close()
	waitFor(t, "the closed session has ended", func() bool {
		n := 0
		for range s.MCP().Sessions() {
			n++
		}
		return n == 1
	})
	if err := kept.Subscribe(ctx, &mcp.SubscribeParams{URI: "process://300/stdout"}); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, s, "process://300/stdout", true)
	s.notifier.mu.Lock()
	var keys []outputKey
	for k := range s.notifier.subs {
		keys = append(keys, k)
	}
	s.notifier.mu.Unlock()
	slices.SortFunc(keys, func(a, b outputKey) int { return a.pid - b.pid })
	if want := []outputKey{{200, "stderr"}, {300, "stdout"}}; !slices.Equal(keys, want) {
		t.Errorf("subscriptions %v, want %v", keys, want)
	}
	if n := s.notifier.nsubs.Load(); n != 2 {
		t.Errorf("nsubs %d, want 2", n)
	}
}

// waitSubscribed waits until the server's notifier has (or, want false, no
// longer has) a subscription to uri.
func waitSubscribed(t *testing.T, s *Server, uri string, want bool) {
	t.Helper()
	pid, stream, ok := parseOutputURI(uri)
	if !ok {
		t.Fatalf("not an output URI: %s", uri)
	}
	waitFor(t, fmt.Sprintf("subscribed to %s: %v", uri, want), func() bool {
		s.notifier.mu.Lock()
		defer s.notifier.mu.Unlock()
		return (len(s.notifier.subs[outputKey{pid, stream}]) > 0) == want
	})
}

// connectClient is connect with client options (notification handlers)
// and session options (a protocol version).
func connectClient(t *testing.T, s *Server, opts *mcp.ClientOptions, so ...*mcp.ClientSessionOptions) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.MCP().Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	var sessOpts *mcp.ClientSessionOptions
	if len(so) > 0 {
		sessOpts = so[0]
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, opts).Connect(ctx, ct, sessOpts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// catListener is a server that may run cat, and a client that collects
// the URIs of the notifications/resources/updated it hears (heard);
// startCat starts a cat and returns its pid.
func catListener(t *testing.T) (s *Server, cs *mcp.ClientSession, heard func() []string, startCat func() any) {
	cfg := testConfig(t)
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, "/bin/cat", "/usr/bin/cat")
	s = newTestServer(t, cfg, &memRecorder{})
	var (
		mu      sync.Mutex
		updated []string
	)
	heard = func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(updated)
	}
	cs = connectClient(t, s, &mcp.ClientOptions{ResourceUpdatedHandler: func(_ context.Context, req *mcp.ResourceUpdatedNotificationRequest) {
		mu.Lock()
		updated = append(updated, req.Params.URI)
		mu.Unlock()
	}})
	startCat = func() any {
		res, m := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/cat"})
		if res.IsError {
			t.Fatalf("start cat: %v", m)
		}
		return m["pid"]
	}
	return s, cs, heard, startCat
}

// An output resource has one name: an alias of process://PID/stdout
// (process://0PID/stdout, +PID) is refused, so subscribing to or
// unsubscribing from it touches nothing of the real subscription, which
// keeps hearing new output.
func TestOutputURIAliasesAreRefused(t *testing.T) {
	s, cs, heard, startCat := catListener(t)
	pid := startCat()
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
