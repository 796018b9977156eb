package supervisor

import (
	"fmt"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestRetentionForgetsGroupsAndServices: once their processes are past
// exitedRetentionSeconds, a terminated group and a stopped service are
// forgotten too (the soak in bench/soak found both kept for the server's
// life); a group that never had a member stays until it is terminated.
func TestRetentionForgetsGroupsAndServices(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 1
	s, _ := newSup(t, cfg)

	g, err := s.CreateGroup(agentA, "done", false, "process_create_group")
	if err != nil {
		t.Fatal(err)
	}
	empty, err := s.CreateGroup(agentA, "empty", false, "process_create_group")
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	if err := s.AddToGroup(agentA, g, m.Pid, "process_add_to_group"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TerminateGroup(agentA, g, true, "process_terminate_group"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StopService(agentA, "web"); err != nil {
		t.Fatal(err)
	}
	// Right after: all still readable.
	if _, _, err := s.TerminateGroup(agentA, g, true, "process_terminate_group"); err != nil {
		t.Fatalf("terminated group gone before its member's retention: %v", err)
	}
	if st, err := s.GetService(agentA, "web"); err != nil || st.State != ServiceStopped {
		t.Fatalf("stopped service right after stop: %+v, %v", st, err)
	}
	eventually(t, "group and service forgotten", func() bool {
		_, _, gerr := s.TerminateGroup(agentA, g, true, "process_terminate_group")
		_, serr := s.GetService(agentA, "web")
		return gerr != nil && errcode.As(gerr).Code == errcode.ProcessNotFound &&
			serr != nil && errcode.As(serr).Code == errcode.ProcessNotFound
	})
	s.mu.Lock()
	groups, services := len(s.groups), len(s.services)
	s.mu.Unlock()
	if groups != 1 || services != 0 {
		t.Fatalf("%d groups and %d services left, want 1 (the empty one) and 0", groups, services)
	}
	// A group that never had a member stays until it is terminated, and
	// then goes at once (nothing to retain).
	if _, _, err := s.TerminateGroup(agentA, empty, true, "process_terminate_group"); err != nil {
		t.Fatalf("a group that never had a member was forgotten: %v", err)
	}
	s.mu.Lock()
	groups = len(s.groups)
	s.mu.Unlock()
	if groups != 0 {
		t.Fatalf("%d groups left after the empty one was terminated, want 0", groups)
	}
	// The name is free and a new service under it is a new one.
	if _, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StopService(agentA, "web"); err != nil {
		t.Fatal(err)
	}
}

// An agent holds at most maxGroupsPerAgent groups: creating a group is
// not a launch, so no launch quota bounds it. An empty group it
// terminates is forgotten at once, which frees a place; another agent is
// not affected.
func TestGroupsPerAgentBounded(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	var first string
	for i := 0; i < maxGroupsPerAgent; i++ {
		id, err := s.CreateGroup(agentA, fmt.Sprintf("g%d", i), false, "process_create_group")
		if err != nil {
			t.Fatalf("group %d: %v", i, err)
		}
		if i == 0 {
			first = id
		}
	}
	_, err := s.CreateGroup(agentA, "one too many", false, "process_create_group")
	wantCode(t, err, errcode.ConcurrencyLimit)
	if _, err := s.CreateGroup(agentB, "other agent", false, "process_create_group"); err != nil {
		t.Fatalf("another agent's group: %v", err)
	}
	if _, _, err := s.TerminateGroup(agentA, first, true, "process_terminate_group"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TerminateGroup(agentA, first, true, "process_terminate_group"); errcode.As(err).Code != errcode.ProcessNotFound {
		t.Fatalf("a terminated empty group: %v, want PROCESS_NOT_FOUND (forgotten)", err)
	}
	if _, err := s.CreateGroup(agentA, "again", false, "process_create_group"); err != nil {
		t.Fatalf("after terminating an empty group: %v", err)
	}
}
