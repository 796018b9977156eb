package supervisor

import (
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// The supervisor records the caller's label, not a wire protocol's name:
// the CLI's run terminating or feeding its child is recorded as "run"
// (it was recorded as process_terminate / process_send_stdin).
func TestRecordsCarryTheCallersLabel(t *testing.T) {
	s, rec := newSup(t, baseConfig())
	st, err := s.Start(agentA, specFor(t, "cat"), StartOptions{Tool: "run", Stdin: StdinPipe})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendStdin(agentA, st.Pid, []byte("x\n"), false, "run"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Terminate(agentA, st.Pid, false, time.Second, "run"); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{audit.EventLaunch, audit.EventStdin, audit.EventTerminate, audit.EventExit} {
		rs := rec.events(ev, st.Pid)
		if len(rs) != 1 || rs[0].Tool != "run" {
			t.Errorf("%s records %+v, want one with tool \"run\"", ev, rs)
		}
	}
}

// Groups, services and terminal resizes are recorded under the caller's
// label too: the supervisor names no tool of its own.
func TestGroupServiceAndResizeRecordsCarryTheCallersLabel(t *testing.T) {
	s, rec := newSup(t, baseConfig())
	g, err := s.CreateGroup(agentA, "g", false, "label-create")
	if err != nil {
		t.Fatal(err)
	}
	o := StartOptions{Tool: "label-start", PTY: true}
	st, err := s.Start(agentA, specFor(t, "sleep", "30"), o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resize(agentA, st.Pid, 90, 20, "label-resize"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToGroup(agentA, g, st.Pid, "label-add"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TerminateGroup(agentA, g, true, "label-terminate"); err != nil {
		t.Fatal(err)
	}
	svc, err := s.StartService(agentA, ServiceRequest{Tool: "label-service", Name: "web", Spec: specFor(t, "sleep", "30")})
	if err != nil {
		t.Fatal(err)
	}
	tools := func(event string, pid int) []string {
		var ts []string
		for _, r := range rec.events(event, pid) {
			if event != audit.EventTerminate || r.GroupID != "" {
				ts = append(ts, r.Tool)
			}
		}
		return ts
	}
	for _, tc := range []struct {
		event string
		pid   int
		want  []string
	}{
		{audit.EventGroup, 0, []string{"label-create", "label-add"}},
		{audit.EventStdin, st.Pid, []string{"label-resize"}},
		{audit.EventTerminate, 0, []string{"label-terminate"}},
		{audit.EventLaunch, svc.Pid, []string{"label-service"}},
		{audit.EventService, svc.Pid, []string{"label-service"}},
	} {
		if got := tools(tc.event, tc.pid); !slices.Equal(got, tc.want) {
			t.Errorf("%s records name %q, want %q", tc.event, got, tc.want)
		}
	}
}
