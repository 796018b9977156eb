package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// registerResources adds the output resources process://{pid}/stdout and
// process://{pid}/stderr (a template: an agent can read only its own pids).
func (s *Server) registerResources() {
	s.mcp.AddResourceTemplate(&mcp.ResourceTemplate{
		Name:        "process-output",
		URITemplate: "process://{pid}/{stream}",
		Description: "Captured output of a managed process; stream is stdout or stderr. Subscribe to get notifications/resources/updated as output arrives.",
		MIMEType:    "text/plain",
	}, s.readOutputResource)
}

func (s *Server) readOutputResource(ctx context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
	uri := req.Params.URI
	agent := s.agentFrom(req.Session, req.Extra)
	pid, stream, ok := parseOutputURI(uri)
	if !ok {
		return nil, s.denyResource(agent, methodResourceRead, uri, 0, errcode.InvalidInput, mcp.ResourceNotFoundError(uri))
	}
	out, err := s.opts.Supervisor.Output(agent, pid, supervisor.OutputQuery{Stream: stream})
	if err != nil {
		return nil, s.denyResource(agent, methodResourceRead, uri, pid, errcode.ProcessNotFound, mcp.ResourceNotFoundError(uri))
	}
	if err := s.recordResourceRead(agent, uri, pid); err != nil {
		return nil, err
	}
	text := asText(out.Stdout)
	if stream == supervisor.StreamStderr {
		text = asText(out.Stderr)
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: text}}}, nil
}

// subscribe accepts a subscription only to the output of one of the
// caller's own processes: another agent's pid is "not found", as for every
// tool (existence is never revealed).
//
// Over stdio there is one agent, so there is nobody else's output to reach:
// the check applies where agents share the server (HTTP). (Subscriptions
// made through the 2026-07-28 subscriptions/listen stream reach this
// handler without the HTTP request's headers, so such a stream can only
// subscribe where the check is not needed.)
func (s *Server) subscribe(ctx context.Context, req *mcp.SubscribeRequest) error {
	uri := req.Params.URI
	agent := s.agentFrom(req.Session, req.Extra)
	pid, stream, ok := parseOutputURI(uri)
	if !ok {
		return s.denyResource(agent, methodResourceSubscribe, uri, 0, errcode.InvalidInput, mcp.ResourceNotFoundError(uri))
	}
	// ListResources: single agent (stdio), nothing to check.
	if !s.opts.ListResources {
		if _, err := s.opts.Supervisor.Status(agent, pid); err != nil {
			return s.denyResource(agent, methodResourceSubscribe, uri, pid, errcode.ProcessNotFound, mcp.ResourceNotFoundError(uri))
		}
	}
	live := map[*mcp.ServerSession]bool{}
	for ss := range s.mcp.Sessions() {
		live[ss] = true
	}
	s.notifier.subscribe(req.Session, outputKey{pid: pid, stream: stream}, live)
	return nil
}

// unsubscribe ends the notifier's record of the subscription (the SDK
// drops its own after this returns).
func (s *Server) unsubscribe(ctx context.Context, req *mcp.UnsubscribeRequest) error {
	if pid, stream, ok := parseOutputURI(req.Params.URI); ok {
		s.notifier.unsubscribe(req.Session, outputKey{pid: pid, stream: stream})
	}
	return nil
}

func parseOutputURI(uri string) (int, string, bool) {
	rest, ok := strings.CutPrefix(uri, "process://")
	if !ok {
		return 0, "", false
	}
	p, stream, ok := strings.Cut(rest, "/")
	if !ok || (stream != "stdout" && stream != "stderr") {
		return 0, "", false
	}
	pid, err := strconv.Atoi(p)
	if err != nil || pid <= 0 || strconv.Itoa(pid) != p {
		// One name per resource: "0123" or "+123" would be a second name
		// for process://123, subscribed and unsubscribed apart from it.
		return 0, "", false
	}
	return pid, stream, true
}

// outputNotifier turns the supervisor's callbacks (which must not block)
// into MCP traffic: notifications/resources/updated for new output
// (coalescing bursts) and, when listing is on, resources added and removed
// as processes start and exit. One goroutine, owned by the notifier,
// stopped by close.
//
// Output is announced only for a stream some session subscribed to: the
// notifier keeps its own record of subscriptions (subscribe, unsubscribe),
// a superset of the SDK's (a session that ended is forgotten at the next
// subscription), so a chunk of output nobody listens for costs one atomic
// load, and a chunk for a stream already queued costs a map lookup: one
// pending notification per stream, sent as soon as the goroutine runs, as
// before (a subscriber hears the same notifications at the same time).
type outputNotifier struct {
	mu      sync.Mutex
	pending map[outputKey]bool
	subs    map[outputKey]map[*mcp.ServerSession]bool
	nsubs   atomic.Int64 // len(subs)
	queued  atomic.Int64 // output callbacks that queued a notification (tests)
	ops     []resourceOp
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	send    func(uri string)
	apply   func(op resourceOp)
}

// outputKey names one output resource, process://{pid}/{stream}.
type outputKey struct {
	pid    int
	stream string
}

func (k outputKey) uri() string { return fmt.Sprintf("process://%d/%s", k.pid, k.stream) }

// resourceOp lists (add) or unlists a process's output resources.
type resourceOp struct {
	pid int
	add bool
}

func newOutputNotifier(send func(uri string), apply func(resourceOp)) *outputNotifier {
	n := &outputNotifier{pending: map[outputKey]bool{}, subs: map[outputKey]map[*mcp.ServerSession]bool{},
		wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), send: send, apply: apply}
	go n.loop()
	return n
}

// OnOutput is the supervisor's callback; it never blocks. Without a
// subscriber to the stream it does nothing; with one, it queues a
// notification unless one is queued already.
func (n *outputNotifier) OnOutput(pid int, stream string) {
	if n.nsubs.Load() == 0 {
		return
	}
	k := outputKey{pid: pid, stream: stream}
	n.mu.Lock()
	if n.subs[k] == nil || n.pending[k] {
		n.mu.Unlock()
		return
	}
	n.pending[k] = true
	n.mu.Unlock()
	n.queued.Add(1)
	n.poke()
}

// subscribe records ss's subscription to k, first forgetting the
// subscriptions of sessions not in live (ended: the SDK has dropped theirs).
func (n *outputNotifier) subscribe(ss *mcp.ServerSession, k outputKey, live map[*mcp.ServerSession]bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for key, set := range n.subs {
		for s := range set {
			if !live[s] && s != ss {
				delete(set, s)
			}
		}
		if len(set) == 0 {
			delete(n.subs, key)
		}
	}
	if n.subs[k] == nil {
		n.subs[k] = map[*mcp.ServerSession]bool{}
	}
	n.subs[k][ss] = true
	n.nsubs.Store(int64(len(n.subs)))
}

// unsubscribe forgets ss's subscription to k.
func (n *outputNotifier) unsubscribe(ss *mcp.ServerSession, k outputKey) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if set := n.subs[k]; set != nil {
		delete(set, ss)
		if len(set) == 0 {
			delete(n.subs, k)
		}
	}
	n.nsubs.Store(int64(len(n.subs)))
}

// OnStateChange queues listing or unlisting pid's resources; never blocks.
//
// A process that ended has no more output: the subscriptions to it are
// forgotten, so that a later process given the same pid (perhaps another
// agent's) is not announced to them unless they subscribe again.
func (n *outputNotifier) OnStateChange(pid int, running bool) {
	n.mu.Lock()
	n.ops = append(n.ops, resourceOp{pid: pid, add: running})
	if !running {
		delete(n.subs, outputKey{pid: pid, stream: "stdout"})
		delete(n.subs, outputKey{pid: pid, stream: "stderr"})
		n.nsubs.Store(int64(len(n.subs)))
	}
	n.mu.Unlock()
	n.poke()
}

func (n *outputNotifier) poke() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

func (n *outputNotifier) loop() {
	defer close(n.stopped)
	for {
		select {
		case <-n.done:
			return
		case <-n.wake:
		}
		n.mu.Lock()
		ops := n.ops
		n.ops = nil
		uris := make([]string, 0, len(n.pending))
		for k := range n.pending {
			uris = append(uris, k.uri())
		}
		clear(n.pending)
		n.mu.Unlock()
		for _, op := range ops {
			n.apply(op)
		}
		for _, u := range uris {
			n.send(u)
		}
	}
}

func (n *outputNotifier) close() {
	close(n.done)
	<-n.stopped
}

// applyResourceOp lists or unlists a process's two output resources.
func (s *Server) applyResourceOp(op resourceOp) {
	uris := []string{fmt.Sprintf("process://%d/stdout", op.pid), fmt.Sprintf("process://%d/stderr", op.pid)}
	if !op.add {
		s.mcp.RemoveResources(uris...)
		return
	}
	for i, stream := range []string{"stdout", "stderr"} {
		s.mcp.AddResource(&mcp.Resource{URI: uris[i], Name: fmt.Sprintf("pid %d %s", op.pid, stream),
			Description: fmt.Sprintf("captured %s of process %d", stream, op.pid), MIMEType: "text/plain"}, s.readOutputResource)
	}
}
