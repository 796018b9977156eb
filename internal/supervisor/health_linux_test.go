//go:build linux

package supervisor

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// SPEC 7.2: a health check runs inside its service's containment: in the
// service instance's cgroup (so its limits count it), listed while it runs
// as kind "health-check" with the service's id, outside the agent's quotas
// (a maxConcurrentProcesses: 1 service still gets its checks), and killed at
// its timeout. It used to get a cgroup of its own, with its own limits.
func TestHealthCheckRunsInTheServiceCgroup(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: cgroups")
	}
	m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-suptest-hc-%d", os.Getpid())})
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	defer m.Close()
	if cs := m.Support(); cs.Version == "none" || !(cs.Kill || cs.Memory || cs.Pids || cs.CPU || cs.CPUUsage) {
		t.Skip("no usable cgroup hierarchy")
	}
	firstCheckSoon(t)
	cfg := baseConfig()
	cfg.MaxConcurrentProcesses = 1
	s, fa := newSup(t, cfg, func(o *Options) { o.Cgroups = m; o.Authorize = authorizer(t, "sleep") })
	svc, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "60"),
		HealthCheck: &HealthCheck{Command: []string{"sleep", "30"}, IntervalMs: 2000, TimeoutMs: 2000}})
	if err != nil {
		t.Fatal(err)
	}
	var check Status
	eventually(t, "a running health check in process_list", func() bool {
		for _, st := range s.List(agentA, "") {
			if st.Kind == KindHealthCheck && st.State == StateRunning {
				check = st
				return true
			}
		}
		return false
	})
	if check.ServiceID != svc.ServiceID || check.Pid == svc.Pid {
		t.Fatalf("check %+v of service %+v", check, svc)
	}
	if got, want := cgroupOf(t, check.Pid), cgroupOf(t, svc.Pid); got != want {
		t.Fatalf("the check runs in\n%s\nnot in the service's cgroups\n%s", got, want)
	}
	// Killed at its timeout (2 s, not the 30 s it sleeps): unhealthy, and
	// gone from the table.
	got := serviceState(t, s, svc.ServiceID, func(x *ServiceStatus) bool { return x.Health == HealthUnhealthy })
	if alive(check.Pid) {
		t.Fatalf("the check outlived its timeout: %+v", got)
	}
	if _, err := s.Status(agentA, check.Pid); err == nil {
		t.Error("an ended check is still in the process table")
	}
	// Its launch and exit are recorded; the service still runs.
	if len(fa.events("launch", 0)) < 2 || !alive(svc.Pid) {
		t.Fatalf("launch records %d, service alive %v", len(fa.events("launch", 0)), alive(svc.Pid))
	}
}

// A check that cannot start (here: its file changed since the service
// started and the policy checked it) leaves the health "unknown", not
// "unhealthy" (SPEC 7.2), and does not restart the service.
func TestHealthCheckThatCannotStartIsUnknown(t *testing.T) {
	firstCheckSoon(t)
	authorize := authorizer(t, "true")
	s, _ := newSup(t, baseConfig(), func(o *Options) {
		o.Authorize = func(agent string, req policy.Request) (*policy.Spec, *errcode.Error) {
			sp, err := authorize(agent, req)
			if sp != nil {
				sp.Ino++ // the file is no longer the one checked
			}
			return sp, err
		}
	})
	svc, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "60"),
		HealthCheck: &HealthCheck{Command: []string{"true"}, IntervalMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	serviceState(t, s, svc.ServiceID, func(x *ServiceStatus) bool { return x.LastHealthCheck != "" })
	time.Sleep(1500 * time.Millisecond) // another round
	got, _ := s.GetService(agentA, svc.ServiceID)
	if got.Health != HealthUnknown || got.State != ServiceRunning || got.Restarts != 0 {
		t.Fatalf("service %+v, want running with health unknown", got)
	}
}

// cgroupOf returns /proc/PID/cgroup.
func cgroupOf(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
