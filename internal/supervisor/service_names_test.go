package supervisor

import (
	"strings"
	"sync"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A service's id is its name, unique among one agent's running services
// (SPEC 7.3); other agents have names of their own.
func TestServiceNamesPerAgent(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	req := func() ServiceRequest {
		return ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30")}
	}
	a, err := s.StartService(agentA, req())
	if err != nil || a.ServiceID != "web" {
		t.Fatalf("agent A: %+v %v", a, err)
	}
	b, err := s.StartService(agentB, req())
	if err != nil || b.ServiceID != "web" || b.Pid == a.Pid {
		t.Fatalf("agent B's own web: %+v %v", b, err)
	}
	_, err = s.StartService(agentA, req())
	wantCode(t, err, errcode.InvalidInput)

	// Concurrent starts of one name: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	spec := specFor(t, "sleep", "30")
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "race", Spec: spec})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if e := errcode.As(err); e.Code != errcode.InvalidInput {
				t.Errorf("a losing start: %v, want INVALID_INPUT (name taken)", err)
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d concurrent starts of service race succeeded, want 1", won)
	}

	// B stops its web; A's keeps running.
	if st, err := s.StopService(agentB, "web"); err != nil || st.State != ServiceStopped || alive(b.Pid) {
		t.Fatalf("stop B's web: %+v %v", st, err)
	}
	if st, err := s.GetService(agentA, "web"); err != nil || st.State != ServiceRunning || !alive(a.Pid) {
		t.Fatalf("A's web after B stopped its own: %+v %v", st, err)
	}
	// A name is free again once its service stopped.
	if st, err := s.StartService(agentB, req()); err != nil || st.State != ServiceRunning {
		t.Fatalf("B's web again: %+v %v", st, err)
	}
	_, err = s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "", Spec: specFor(t, "sleep", "30")})
	wantCode(t, err, errcode.InvalidInput)
}

// Group and service names are at most 256 bytes (SPEC 7.2): longer is
// INVALID_INPUT, and nothing is created.
func TestNamesBounded(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	long := strings.Repeat("n", MaxNameBytes+1)
	_, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: long, Spec: specFor(t, "sleep", "30")})
	wantCode(t, err, errcode.InvalidInput)
	if _, err := s.GetService(agentA, long); err == nil {
		t.Error("a service with a 257-byte name exists")
	}
	_, err = s.CreateGroup(agentA, long, false, "process_create_group")
	wantCode(t, err, errcode.InvalidInput)
	ok := strings.Repeat("n", MaxNameBytes)
	if st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: ok, Spec: specFor(t, "sleep", "30")}); err != nil || st.ServiceID != ok {
		t.Fatalf("a 256-byte service name: %+v %v", st, err)
	}
	if _, err := s.CreateGroup(agentA, ok, false, "process_create_group"); err != nil {
		t.Fatalf("a 256-byte group name: %v", err)
	}
}
