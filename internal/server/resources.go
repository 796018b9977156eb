package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

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
	pid, _, ok := parseOutputURI(uri)
	if !ok {
		return s.denyResource(agent, methodResourceSubscribe, uri, 0, errcode.InvalidInput, mcp.ResourceNotFoundError(uri))
	}
	if s.opts.ListResources {
		return nil // single agent (stdio)
	}
	if _, err := s.opts.Supervisor.Status(agent, pid); err != nil {
		return s.denyResource(agent, methodResourceSubscribe, uri, pid, errcode.ProcessNotFound, mcp.ResourceNotFoundError(uri))
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
	if err != nil || pid <= 0 {
		return 0, "", false
	}
	return pid, stream, true
}

// outputNotifier turns the supervisor's callbacks (which must not block)
// into MCP traffic: notifications/resources/updated for new output
// (coalescing bursts) and, when listing is on, resources added and removed
// as processes start and exit. One goroutine, owned by the notifier,
// stopped by close.
type outputNotifier struct {
	mu      sync.Mutex
	pending map[string]bool
	ops     []resourceOp
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	send    func(uri string)
	apply   func(op resourceOp)
}

// resourceOp lists (add) or unlists a process's output resources.
type resourceOp struct {
	pid int
	add bool
}

func newOutputNotifier(send func(uri string), apply func(resourceOp)) *outputNotifier {
	n := &outputNotifier{pending: map[string]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{}),
		stopped: make(chan struct{}), send: send, apply: apply}
	go n.loop()
	return n
}

// OnOutput is the supervisor's callback; it never blocks.
func (n *outputNotifier) OnOutput(pid int, stream string) {
	n.mu.Lock()
	n.pending[fmt.Sprintf("process://%d/%s", pid, stream)] = true
	n.mu.Unlock()
	n.poke()
}

// OnStateChange queues listing or unlisting pid's resources; never blocks.
func (n *outputNotifier) OnStateChange(pid int, running bool) {
	n.mu.Lock()
	n.ops = append(n.ops, resourceOp{pid: pid, add: running})
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
		for u := range n.pending {
			uris = append(uris, u)
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
