package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/approval"
	"github.com/mcp-process/mcp-process/internal/audit"
)

// connectAsking connects a 2025-11-25 client whose elicitation handler
// counts the questions and approves.
func connectAsking(t *testing.T, s *Server, asked *atomic.Int32) *mcp.ClientSession {
	t.Helper()
	return connectClient(t, s, &mcp.ClientOptions{
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			asked.Add(1)
			return &mcp.ElicitResult{Action: "accept", Content: map[string]any{"decision": "approve"}}, nil
		},
	}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
}

// TestApprovalFailsClosed: without an Approver a launch that needs
// approval is refused; a question that cannot be recorded is never asked;
// neither starts anything.
func TestApprovalFailsClosed(t *testing.T) {
	cfg := testConfig(t)
	cfg.RequireConfirmation = true
	rec := &memRecorder{}
	s := newTestServer(t, cfg, rec)
	var asked atomic.Int32
	cs := connectAsking(t, s, &asked)
	_, m := callTool(t, cs, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if m["code"] != "CONFIRMATION_DENIED" {
		t.Fatalf("no approver: %v", m)
	}
	if rec.find(audit.EventApproval, "") == nil || rec.find(audit.EventSecurityViolation, "CONFIRMATION_DENIED") == nil || rec.find(audit.EventLaunch, "") != nil {
		t.Errorf("records %+v", rec.recs)
	}
	if asked.Load() != 0 {
		t.Error("asked without an approver")
	}

	rec2 := &memRecorder{}
	s2 := newTestServer(t, cfg, rec2)
	a, err := approval.New(approval.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s2.opts.Approver = a
	cs2 := connectAsking(t, s2, &asked)
	var out map[string]any
	_, out = callTool(t, cs2, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if out["status"] != "success" || asked.Load() != 1 {
		t.Fatalf("approved launch: %v (asked %d)", out, asked.Load())
	}
	callTool(t, cs2, "process_terminate", map[string]any{"pid": out["pid"], "force": true})
	rec2.mu.Lock()
	rec2.fail = true
	rec2.mu.Unlock()
	_, out = callTool(t, cs2, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	if out["code"] != "INTERNAL" || asked.Load() != 1 {
		t.Errorf("unrecordable question: %v (asked %d times, want 1)", out, asked.Load())
	}
	if ps := s2.opts.Supervisor.List("tester", "running"); len(ps) != 0 {
		t.Errorf("running after an unrecordable question: %+v", ps)
	}
}
