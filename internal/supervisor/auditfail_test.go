package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// A termination proceeds when its record cannot be written (SPEC 7.2): the
// tree is gone, the call succeeds, and the result says the record is
// missing.
func TestTerminationProceedsWithoutItsRecord(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	st := start(t, s, agentA, specFor(t, "sleep", "600"), StartOptions{Tool: "process_start"})
	fa.mu.Lock()
	fa.fail = func(r audit.Record) bool { return r.Event == audit.EventTerminate || r.Event == audit.EventExit }
	fa.mu.Unlock()
	res, err := s.Terminate(agentA, st.Pid, false, 2*time.Second, "test")
	if err != nil {
		t.Fatalf("Terminate with a failing audit log: %v, want the termination done", err)
	}
	if !strings.Contains(res.AuditError, "disk full") || res.TerminationReason != ReasonTerminated {
		t.Fatalf("result %+v: want terminationReason %q and auditError naming the failure", res, ReasonTerminated)
	}
	if alive(st.Pid) {
		t.Fatalf("pid %d still alive after the termination", st.Pid)
	}
	if got := fa.events(audit.EventTerminate, st.Pid); len(got) != 1 {
		t.Fatalf("%d terminate records attempted, want 1", len(got))
	}

	g, err := s.CreateGroup(agentA, "g", false, "process_create_group")
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, s, agentA, specFor(t, "sleep", "600"), StartOptions{Tool: "process_start"})
	if err := s.AddToGroup(agentA, g, m.Pid, "process_add_to_group"); err != nil {
		t.Fatal(err)
	}
	pids, auditErr, err := s.TerminateGroup(agentA, g, true, "process_terminate_group")
	if err != nil || len(pids) != 1 || !strings.Contains(auditErr, "disk full") {
		t.Fatalf("TerminateGroup = %v, %q, %v: want the member terminated and the missing record said", pids, auditErr, err)
	}
	if alive(m.Pid) {
		t.Fatalf("group member %d still alive", m.Pid)
	}
}

// The server's own limits kill whatever the audit log does: a lifetime
// limit ends a process even though no record can be written.
func TestLimitKillsWithoutRecords(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxProcessLifetime = 1
	s, fa := newSup(t, cfg)
	fa.mu.Lock()
	fa.fail = func(r audit.Record) bool { return r.Event != audit.EventLaunch }
	fa.mu.Unlock()
	st := start(t, s, agentA, specFor(t, "sleep", "600"), StartOptions{Tool: "process_start"})
	ex := waitExit(t, s, agentA, st.Pid)
	if ex.TerminationReason != ReasonLifetime {
		t.Fatalf("status %+v: want the lifetime limit's reason", ex)
	}
	if alive(st.Pid) {
		t.Fatalf("pid %d still alive", st.Pid)
	}
}
