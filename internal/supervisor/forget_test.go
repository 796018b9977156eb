package supervisor

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestRetentionForgetsGroupsAndServices: once their processes are past
// exitedRetentionSeconds, a terminated group and a stopped service are
// forgotten too (the soak in bench/soak found both kept for the server's
// life); a group that never had a member stays.
func TestRetentionForgetsGroupsAndServices(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 1
	s, _ := newSup(t, cfg)

	g, err := s.CreateGroup(agentA, "done", false)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := s.CreateGroup(agentA, "empty", false)
	if err != nil {
		t.Fatal(err)
	}
	m := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	if err := s.AddToGroup(agentA, g, m.Pid); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.TerminateGroup(agentA, g, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartService(agentA, ServiceRequest{Name: "web", Spec: specFor(t, "sleep", "30")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StopService(agentA, "web"); err != nil {
		t.Fatal(err)
	}
	// Right after: all still readable.
	if _, _, err := s.TerminateGroup(agentA, g, true); err != nil {
		t.Fatalf("terminated group gone before its member's retention: %v", err)
	}
	if st, err := s.GetService(agentA, "web"); err != nil || st.State != ServiceStopped {
		t.Fatalf("stopped service right after stop: %+v, %v", st, err)
	}
	eventually(t, "group and service forgotten", func() bool {
		_, _, gerr := s.TerminateGroup(agentA, g, true)
		_, serr := s.GetService(agentA, "web")
		return gerr != nil && errcode.As(gerr).Code == errcode.ProcessNotFound &&
			serr != nil && errcode.As(serr).Code == errcode.ProcessNotFound
	})
	if _, _, err := s.TerminateGroup(agentA, empty, true); err != nil {
		t.Fatalf("a group that never had a member was forgotten: %v", err)
	}
	s.mu.Lock()
	groups, services := len(s.groups), len(s.services)
	s.mu.Unlock()
	if groups != 1 || services != 0 {
		t.Fatalf("%d groups and %d services left, want 1 (the empty one) and 0", groups, services)
	}
	// The name is free and a new service under it is a new one.
	if _, err := s.StartService(agentA, ServiceRequest{Name: "web", Spec: specFor(t, "sleep", "30")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StopService(agentA, "web"); err != nil {
		t.Fatal(err)
	}
}
