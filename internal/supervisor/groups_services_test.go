package supervisor

import (
	"context"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
)

func TestGroups(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	g, err := s.CreateGroup(agentA, "workers", false, "process_create_group")
	if err != nil || !strings.HasPrefix(g, "g-") {
		t.Fatalf("CreateGroup = %q, %v", g, err)
	}
	a := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	b := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	outside := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	for _, pid := range []int{a.Pid, b.Pid} {
		if err := s.AddToGroup(agentA, g, pid, "process_add_to_group"); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.Status(agentA, a.Pid); st.GroupID != g {
		t.Fatalf("groupId %q", st.GroupID)
	}
	_, _, err = s.TerminateGroup(agentB, g, false, "process_terminate_group")
	wantCode(t, err, errcode.ProcessNotFound)
	pids, _, err := s.TerminateGroup(agentA, g, false, "process_terminate_group")
	slices.Sort(pids)
	want := []int{a.Pid, b.Pid}
	slices.Sort(want) // pids are not allocated in launch order (warm init stages)
	if err != nil || !slices.Equal(pids, want) {
		t.Fatalf("TerminateGroup = %v, %v", pids, err)
	}
	for _, pid := range pids {
		if st, _ := s.Status(agentA, pid); st.State != StateExited || st.TerminationReason != ReasonTerminated || alive(pid) {
			t.Fatalf("member %+v", st)
		}
	}
	if !alive(outside.Pid) {
		t.Fatal("a process outside the group was terminated")
	}
}

func TestPipeline(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	g, _ := s.CreateGroup(agentA, "pipe", true, "process_create_group")
	first := start(t, s, agentA, specFor(t, "cat"), capture())
	second := start(t, s, agentA, specFor(t, "tr", "a-z", "A-Z"), capture())
	null := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{Stdin: StdinNull, CaptureOutput: true})
	if err := s.AddToGroup(agentA, g, first.Pid, "process_add_to_group"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToGroup(agentA, g, second.Pid, "process_add_to_group"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.AddToGroup(agentA, g, null.Pid, "process_add_to_group"), errcode.InvalidInput) // no stdin pipe to feed
	if _, err := s.SendStdin(agentA, first.Pid, []byte("hello pipeline\n"), true, "test"); err != nil {
		t.Fatal(err)
	}
	// first ends at EOF, which closes second's stdin: both exit.
	waitExit(t, s, agentA, first.Pid)
	waitExit(t, s, agentA, second.Pid)
	if out, _ := output(t, s, agentA, second.Pid); out != "HELLO PIPELINE\n" {
		t.Fatalf("second got %q", out)
	}
	if out, _ := output(t, s, agentA, first.Pid); out != "hello pipeline\n" {
		t.Fatalf("first's output no longer readable: %q", out)
	}
}

// authorizer is a fake policy: it allows the executables in allow.
func authorizer(t *testing.T, allow ...string) func(string, policy.Request) (*policy.Spec, *errcode.Error) {
	return func(agent string, req policy.Request) (*policy.Spec, *errcode.Error) {
		if !slices.Contains(allow, req.Executable) {
			return nil, errcode.Deny(errcode.ExecutableNotAllowed, "executable", "add it to allowedExecutables", "%s is not allowed", req.Executable)
		}
		sp := specFor(t, req.Executable, req.Args...)
		sp.Lifetime = req.Timeout
		return sp, nil
	}
}

func serviceState(t *testing.T, s *Supervisor, id string, cond func(*ServiceStatus) bool) *ServiceStatus {
	t.Helper()
	var st *ServiceStatus
	eventually(t, "service state", func() bool {
		var err error
		st, err = s.GetService(agentA, id)
		return err == nil && cond(st)
	})
	return st
}

func TestServiceHealthAndStop(t *testing.T) {
	s, fa := newSup(t, baseConfig(), func(o *Options) { o.Authorize = authorizer(t, "true", "false") })
	tests := []struct {
		name   string
		check  string
		health string
	}{
		{"healthy", "true", HealthHealthy},
		{"unhealthy", "false", HealthUnhealthy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30"),
				HealthCheck: &HealthCheck{Command: []string{tc.check}, IntervalMs: 1000, TimeoutMs: 1000}})
			if err != nil {
				t.Fatal(err)
			}
			if st.State != ServiceRunning || st.Pid == 0 || st.Health != HealthUnknown {
				t.Fatalf("started %+v", st)
			}
			got := serviceState(t, s, st.ServiceID, func(x *ServiceStatus) bool { return x.Health == tc.health })
			if got.LastHealthCheck == "" {
				t.Fatalf("no lastHealthCheck: %+v", got)
			}
			ps, _ := s.Status(agentA, st.Pid)
			if ps.Kind != KindService || ps.ServiceID != st.ServiceID {
				t.Fatalf("process status %+v", ps)
			}
			_, err = s.StopService(agentB, st.ServiceID)
			wantCode(t, err, errcode.ProcessNotFound)
			stopped, err := s.StopService(agentA, st.ServiceID)
			if err != nil || stopped.State != ServiceStopped || alive(st.Pid) || stopped.LastExit == nil ||
				stopped.LastExit.TerminationReason != ReasonTerminated {
				t.Fatalf("stopped %+v %v", stopped, err)
			}
		})
	}
	if len(fa.events("launch", 0)) < 3 {
		t.Fatal("health checks were not recorded as launches")
	}
}

func TestServiceHealthCheckDenied(t *testing.T) {
	s, fa := newSup(t, baseConfig(), func(o *Options) { o.Authorize = authorizer(t, "true") })
	_, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30"),
		HealthCheck: &HealthCheck{Command: []string{"curl", "localhost"}, IntervalMs: 1000}})
	wantCode(t, err, errcode.ExecutableNotAllowed)
	if len(fa.events("launch", 0)) != 0 || len(s.Live(agentA)) != 0 {
		t.Fatal("the service started although its health check is denied")
	}
}

func TestServiceRestarts(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "flaky", Spec: specFor(t, "false"),
		RestartPolicy: RestartPolicy{Enabled: true, MaxRetries: 2, BackoffMs: 50}})
	if err != nil {
		t.Fatal(err)
	}
	end := serviceState(t, s, st.ServiceID, func(x *ServiceStatus) bool { return x.State == ServiceFailed })
	if end.Restarts != 2 || end.LastExit == nil || *end.LastExit.ExitCode != 1 {
		t.Fatalf("final %+v", end)
	}
	// Three instances, each reaped before the next started: never overlapping.
	var insts []Status
	for _, p := range s.List(agentA, "") {
		if p.ServiceID == st.ServiceID {
			insts = append(insts, p)
		}
	}
	if len(insts) != 3 {
		t.Fatalf("instances %+v", insts)
	}
	for i := 1; i < len(insts); i++ {
		if insts[i].StartTime < insts[i-1].EndTime {
			t.Fatalf("instance %d started %s before %d ended %s", i, insts[i].StartTime, i-1, insts[i-1].EndTime)
		}
	}
}

func childrenOf(pid int) []int {
	var out []int
	sn := takeSnapshot()
	for _, c := range sn.tree(pid) {
		if c != pid {
			out = append(out, c)
		}
	}
	return out
}

func TestShutdownLeavesNothing(t *testing.T) {
	s := New(Options{Config: baseConfig(), Authorize: authorizer(t, "true")})
	p := start(t, s, agentA, python(t, "import subprocess,time; subprocess.Popen(['/bin/sleep','30']); print('up', flush=True); time.sleep(30)"), capture())
	eventually(t, "grandchild", func() bool { o, _ := output(t, s, agentA, p.Pid); return o == "up\n" })
	grandchildren := childrenOf(p.Pid)
	if len(grandchildren) != 1 {
		t.Fatalf("grandchildren %v", grandchildren)
	}
	svc, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "svc", Spec: specFor(t, "sleep", "30"),
		HealthCheck:   &HealthCheck{Command: []string{"true"}, IntervalMs: 1000},
		RestartPolicy: RestartPolicy{Enabled: true, MaxRetries: 5}})
	if err != nil {
		t.Fatal(err)
	}
	g, _ := s.CreateGroup(agentA, "p", true, "process_create_group")
	c1 := start(t, s, agentA, specFor(t, "cat"), capture())
	c2 := start(t, s, agentA, specFor(t, "cat"), capture())
	s.AddToGroup(agentA, g, c1.Pid, "process_add_to_group")
	s.AddToGroup(agentA, g, c2.Pid, "process_add_to_group")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	s.Shutdown(ctx) // idempotent

	for _, pid := range append(grandchildren, p.Pid, svc.Pid, c1.Pid, c2.Pid) {
		if alive(pid) {
			t.Fatalf("pid %d survived Shutdown", pid)
		}
	}
	for _, st := range s.List(agentA, "") {
		if st.TerminationReason != ReasonServerShutdown {
			t.Fatalf("pid %d reason %q", st.Pid, st.TerminationReason)
		}
	}
	if got, _ := s.GetService(agentA, svc.ServiceID); got.State != ServiceStopped || got.Restarts != 0 {
		t.Fatalf("service after shutdown %+v", got)
	}
	_, err = s.Start(agentA, specFor(t, "true"), StartOptions{})
	wantCode(t, err, errcode.Internal)
	if err := goleak.Find(); err != nil {
		t.Fatal(err)
	}
}

// A health check that hangs does not hold up Shutdown: its whole tree is
// killed when the supervisor stops, not at the end of its own timeout.
func TestShutdownKillsARunningHealthCheck(t *testing.T) {
	firstCheckSoon(t)
	s := New(Options{Config: baseConfig(), Authorize: authorizer(t, "sleep")})
	st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30"),
		HealthCheck: &HealthCheck{Command: []string{"sleep", "3601"}, IntervalMs: 3600000, TimeoutMs: 3600000}})
	if err != nil {
		t.Fatal(err)
	}
	checkRunning := func() int {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == "sleep\x003601\x00" {
				pid, _ := strconv.Atoi(e.Name())
				if alive(pid) {
					return pid
				}
			}
		}
		return 0
	}
	eventually(t, "the health check runs", func() bool { return checkRunning() != 0 })
	hc := checkRunning()
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Shutdown took %v with a hanging health check", d)
	}
	if alive(hc) || alive(st.Pid) {
		t.Errorf("alive after Shutdown: health check %v, service %v", alive(hc), alive(st.Pid))
	}
}
