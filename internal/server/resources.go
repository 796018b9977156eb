package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"

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
	pid, stream, ok := parseOutputURI(uri)
	if !ok {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	agent := s.agentFrom(req.Session, req.Extra)
	out, err := s.opts.Supervisor.Output(agent, pid, supervisor.OutputQuery{Stream: stream})
	if err != nil {
		return nil, mcp.ResourceNotFoundError(uri)
	}
	text := out.Stdout
	if stream == "stderr" {
		text = out.Stderr
	}
	return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: "text/plain", Text: text}}}, nil
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

// outputNotifier turns the supervisor's output callbacks (which must not
// block) into notifications/resources/updated, coalescing bursts: one
// goroutine, owned by the notifier, stopped by close.
type outputNotifier struct {
	mu      sync.Mutex
	pending map[string]bool
	wake    chan struct{}
	done    chan struct{}
	stopped chan struct{}
	send    func(uri string)
}

func newOutputNotifier(send func(uri string)) *outputNotifier {
	n := &outputNotifier{pending: map[string]bool{}, wake: make(chan struct{}, 1), done: make(chan struct{}), stopped: make(chan struct{}), send: send}
	go n.loop()
	return n
}

// OnOutput is the supervisor's callback; it never blocks.
func (n *outputNotifier) OnOutput(pid int, stream string) {
	n.mu.Lock()
	n.pending[fmt.Sprintf("process://%d/%s", pid, stream)] = true
	n.mu.Unlock()
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
		uris := make([]string, 0, len(n.pending))
		for u := range n.pending {
			uris = append(uris, u)
		}
		clear(n.pending)
		n.mu.Unlock()
		for _, u := range uris {
			n.send(u)
		}
	}
}

func (n *outputNotifier) close() {
	close(n.done)
	<-n.stopped
}
