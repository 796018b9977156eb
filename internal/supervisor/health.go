package supervisor

import (
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// KindHealthCheck is a running health check in the process table (SPEC
// 7.2): listed with its service's id while it runs, forgotten once it ended.
const KindHealthCheck = "health-check"

// Health checks run inside their service's containment, as Kubernetes exec
// probes run inside the container (SPEC 7.2). A check is launched by the
// same sequence as any process (launch: init stage, sandbox profile and
// identity of the server's config, the launch record before it runs, the
// exit record), with three differences, all decided by launchKind.health
// (the service instance it checks):
//   - its stage joins the instance's cgroup, so the check counts against the
//     service's maxProcesses, memory and CPU limits, and dies with the
//     instance (a memory limit reached by the check kills the service's
//     tree, as it would in a container);
//   - it takes no launch quota: not the agent's concurrency, rate or total
//     (a maxConcurrentProcesses: 1 service still gets its checks);
//   - it is killed (SIGKILL, its process group) at its timeout, when the
//     instance ends, or when the server stops, and is forgotten from the
//     process table once reaped (only a running check is listed).
//
// The command is the spec authorized when the service started (a check is
// not authorized or confirmed again); a check that cannot start leaves the
// health "unknown".

// reserveFor reserves a launch (under s.mu): every quota for an agent's
// or a service's launch, none for a health check (it holds only its place
// in s.wg, which Shutdown waits for).
func (s *Supervisor) reserveFor(agent string, lk launchKind) (time.Time, *errcode.Error) {
	if lk.health != nil {
		s.wg.Add(1)
		return s.now(), nil
	}
	return s.reserveLocked(agent, lk.byServer)
}

// unreserveFor gives back what reserveFor took for a launch that failed.
func (s *Supervisor) unreserveFor(agent string, at time.Time, lk launchKind) {
	if lk.health != nil {
		s.wg.Done()
		return
	}
	s.unreserve(agent, at, lk.byServer)
}

// joinInstance moves a health check's stage, waiting at its gate in its
// own group with the launch's limits, into its service instance's group:
// the instance's limits then count the check. The check's own group (its
// Process.Cgroup, empty once the target runs) is removed when the check is
// reaped; it is never the instance's, so reaping the check never kills the
// service.
func joinInstance(inst *proc) func(*sandbox.Process) error {
	return func(sp *sandbox.Process) error {
		if inst.cg == nil {
			return nil // the service has no cgroup (none on this host)
		}
		if err := inst.cg.Join(sp.Pid); err != nil {
			return errcode.Fail(errcode.LayerUnavailable, layer.ResourceLimits, "check the cgroup hierarchy (mcp-process doctor)",
				"cannot move the health check into its service's cgroup: %v", err)
		}
		select {
		case <-inst.done: // its group is being removed: no check in it
			return errcode.Fail(errcode.Internal, layer.Service, "", "the service instance ended")
		default:
		}
		return nil
	}
}

// checkHealth runs svc's health check once in instance inst's containment
// and returns the health: healthy when it exits 0 within its timeout,
// unhealthy when it fails or is killed at its timeout, unknown when it
// cannot start, or when the instance or the server stops meanwhile.
func (s *Supervisor) checkHealth(svc *service, inst *proc) string {
	spec := svc.hcSpec
	p, err := s.launch(svc.agent, spec, StartOptions{Tool: "service_health_check", Name: svc.name + " health check", Stdin: StdinNull},
		launchKind{kind: KindHealthCheck, serviceID: svc.id, byServer: true, health: inst})
	if err != nil {
		return HealthUnknown
	}
	defer func() {
		s.mu.Lock()
		s.forgetLocked(p.pid, p) // a no-op on the table if its pid went to another process
		s.mu.Unlock()
	}()
	timer := time.NewTimer(healthTimeout(svc.req.HealthCheck))
	defer timer.Stop()
	select {
	case <-p.done:
		if st := p.status(s.now()); st.ExitCode != nil && *st.ExitCode == 0 {
			return HealthHealthy
		}
		return HealthUnhealthy
	case <-timer.C:
		p.requestStop(ReasonTimeout, 0)
		<-p.done
		return HealthUnhealthy
	case <-inst.done:
		p.requestStop(ReasonKilled, 0)
		<-p.done
		return HealthUnknown
	case <-s.stop:
		p.requestStop(ReasonServerShutdown, 0)
		<-p.done
		return HealthUnknown
	}
}
