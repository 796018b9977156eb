package supervisor

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// service is a managed process the supervisor restarts and health-checks.
type service struct {
	id, name, agent string
	req             ServiceRequest
	stopReq         chan struct{}
	stopOnce        sync.Once
	finished        chan struct{} // the manager returned

	mu        sync.Mutex
	state     string
	cur       *proc
	restarts  int
	lastExit  *ExitInfo
	health    string
	lastCheck time.Time
	errMsg    string
	hcSpec    *policy.Spec // the health check as authorized when the service started (health.go)
}

func (svc *service) status() *ServiceStatus {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	st := &ServiceStatus{ServiceID: svc.id, Name: svc.name, State: svc.state, Restarts: svc.restarts,
		Health: svc.health, Error: svc.errMsg}
	if svc.cur != nil {
		st.Pid = svc.cur.pid
	}
	if svc.lastExit != nil {
		le := *svc.lastExit
		st.LastExit = &le
	}
	if !svc.lastCheck.IsZero() {
		st.LastHealthCheck = fmtTime(svc.lastCheck)
	}
	return st
}

func (svc *service) set(f func()) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	f()
}

func (s *Supervisor) healthRequest(agent string, req ServiceRequest) policy.Request {
	hc := req.HealthCheck
	return policy.Request{Agent: agent, Executable: hc.Command[0], Args: hc.Command[1:], Cwd: req.Cwd, Env: req.Env,
		Timeout: healthTimeout(hc)}
}

func msOr(ms int64, def time.Duration) time.Duration {
	if ms > 0 {
		return time.Duration(ms) * time.Millisecond
	}
	return def
}

func serviceOpts(req ServiceRequest) StartOptions {
	return StartOptions{Tool: req.Tool, Name: req.Name, CaptureOutput: true, Stdin: StdinNull}
}

// StartService launches a service (stdin /dev/null, output captured). A
// health check command is authorized up front: a denial fails the call.
func (s *Supervisor) StartService(agent string, req ServiceRequest) (*ServiceStatus, error) {
	if req.Spec == nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "", "nothing to launch")
	}
	var hcSpec *policy.Spec
	var derr *errcode.Error
	if hc := req.HealthCheck; hc != nil {
		if len(hc.Command) == 0 || hc.Command[0] == "" {
			return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "give the command as a command line (\"curl -f http://localhost:8080/\") or an argv array", "healthCheck.command is empty")
		}
		if err := checkHealthTiming(hc); err != nil {
			return nil, err
		}
		if s.opts.Authorize == nil {
			return nil, errcode.Fail(errcode.Internal, layer.Service, "", "health checks cannot be authorized (no policy)")
		}
		if hcSpec, derr = s.opts.Authorize(agent, s.healthRequest(agent, req)); derr != nil {
			return nil, derr
		}
	}
	if req.RestartPolicy.MaxRetries < 0 || req.RestartPolicy.BackoffMs < 0 {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "", "restartPolicy values cannot be negative")
	}
	// The service's id is its name, unique among the agent's services that
	// run (SPEC 7.3); a stopped or failed service's name can be reused.
	name := req.Name
	id := name
	if name == "" {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "give the service a name: it is its serviceId", "the service name is empty")
	}
	if err := checkName(layer.Service, name); err != nil {
		return nil, err
	}
	key := serviceKey(agent, name)
	s.mu.Lock()
	if old := s.services[key]; s.svcStarting[key] || (old != nil && old.active()) {
		s.mu.Unlock()
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service,
			"stop it first (process_stop_service with serviceId "+strconv.Quote(name)+"), or choose another name",
			"a service named %q is already running for this agent", name)
	}
	s.svcStarting[key] = true
	s.mu.Unlock()
	p, err := s.launch(agent, req.Spec, serviceOpts(req), launchKind{kind: KindService, serviceID: id})
	if err != nil {
		s.mu.Lock()
		delete(s.svcStarting, key)
		s.mu.Unlock()
		return nil, err
	}
	svc := &service{id: id, name: name, agent: agent, req: req, stopReq: make(chan struct{}), finished: make(chan struct{}),
		state: ServiceRunning, cur: p, health: HealthUnknown, hcSpec: hcSpec}
	s.mu.Lock()
	delete(s.svcStarting, key)
	s.services[key] = svc
	if s.closed {
		s.mu.Unlock()
		// Shutdown is stopping p; nobody will manage it.
		<-p.done
		svc.set(func() { svc.state = ServiceStopped; svc.lastExit = exitInfo(p) })
		close(svc.finished)
		return svc.status(), nil
	}
	s.wg.Add(1)
	if req.HealthCheck != nil {
		s.wg.Add(1)
		go s.checkHealthLoop(svc)
	}
	s.mu.Unlock()
	go s.manage(svc)
	if err := s.record(audit.Record{Event: audit.EventService, Agent: agent, Tool: req.Tool, ServiceID: id,
		PID: p.pid, Executable: req.Spec.Path, Reason: "started"}); err != nil {
		return nil, auditFailed(err)
	}
	return svc.status(), nil
}

func exitInfo(p *proc) *ExitInfo {
	st := p.status(time.Now())
	return &ExitInfo{Pid: p.pid, ExitCode: st.ExitCode, Signal: st.Signal, TerminationReason: st.TerminationReason, Time: st.EndTime}
}

// manage restarts svc's instances per its policy, one at a time.
func (s *Supervisor) manage(svc *service) {
	defer s.wg.Done()
	defer close(svc.finished)
	rp := svc.req.RestartPolicy
	for {
		svc.mu.Lock()
		p := svc.cur
		svc.mu.Unlock()
		stopping := false
		select {
		case <-p.done:
		case <-svc.stopReq:
			stopping = true
			p.stopAndWait(false, defaultTermTimeout)
		case <-s.stop:
			stopping = true
			<-p.done // Shutdown stops every process
		}
		select {
		case <-s.stop: // the instance ended because the server is stopping
			stopping = true
		default:
		}
		le := exitInfo(p)
		svc.set(func() { svc.lastExit = le; svc.health = HealthUnknown })
		if stopping {
			s.serviceEnd(svc, ServiceStopped, "stopped")
			return
		}
		svc.mu.Lock()
		restarts := svc.restarts
		svc.mu.Unlock()
		if !rp.Enabled || restarts >= rp.MaxRetries {
			state := ServiceStopped
			if le.ExitCode == nil || *le.ExitCode != 0 {
				state = ServiceFailed
			}
			s.serviceEnd(svc, state, "exited, not restarted")
			return
		}
		svc.set(func() { svc.state = ServiceRestarting })
		t := time.NewTimer(time.Duration(rp.BackoffMs) * time.Millisecond)
		select {
		case <-t.C:
		case <-svc.stopReq:
			t.Stop()
			s.serviceEnd(svc, ServiceStopped, "stopped")
			return
		case <-s.stop:
			t.Stop()
			s.serviceEnd(svc, ServiceStopped, "stopped")
			return
		}
		// The previous instance is reaped (p.done): restarts never overlap.
		np, err := s.launch(svc.agent, svc.req.Spec, serviceOpts(svc.req), launchKind{kind: KindService, serviceID: svc.id, byServer: true})
		if err != nil {
			select {
			case <-s.stop: // refused because the server is stopping
				s.serviceEnd(svc, ServiceStopped, "stopped")
				return
			default:
			}
			svc.set(func() { svc.errMsg = "restart refused: " + err.Error() })
			s.serviceEnd(svc, ServiceFailed, "restart refused")
			return
		}
		svc.set(func() { svc.cur = np; svc.restarts++; svc.state = ServiceRunning })
		s.recordOrWarn(audit.Record{Event: audit.EventService, Agent: svc.agent, ServiceID: svc.id, PID: np.pid,
			Executable: svc.req.Spec.Path, Reason: fmt.Sprintf("restarted (%d/%d)", restarts+1, rp.MaxRetries)})
	}
}

func (s *Supervisor) serviceEnd(svc *service, state, why string) {
	svc.set(func() { svc.state = state })
	s.recordOrWarn(audit.Record{Event: audit.EventService, Agent: svc.agent, ServiceID: svc.id, Reason: why + ": " + state})
}

// checkHealthLoop runs svc's health check every interval while it runs.
func (s *Supervisor) checkHealthLoop(svc *service) {
	defer s.wg.Done()
	hc := svc.req.HealthCheck
	t := time.NewTimer(firstHealthCheck(hc))
	defer t.Stop()
	for {
		select {
		case <-t.C:
			t.Reset(healthInterval(hc))
		case <-svc.finished:
			return
		case <-s.stop:
			return
		}
		svc.mu.Lock()
		running, inst := svc.state == ServiceRunning, svc.cur
		svc.mu.Unlock()
		if !running || inst == nil {
			continue
		}
		h := s.checkHealth(svc, inst)
		now := s.now()
		var changed bool
		var pid int
		svc.set(func() {
			if svc.state == ServiceRunning {
				changed = svc.health != h
				svc.health = h
				if svc.cur != nil {
					pid = svc.cur.pid
				}
			}
			svc.lastCheck = now
		})
		if changed {
			// A health change is a state change of the service: recorded
			// (and so sent to the agent's MCP log notifications).
			s.recordOrWarn(audit.Record{Event: audit.EventService, Agent: svc.agent, ServiceID: svc.id, PID: pid, Reason: "health: " + h})
		}
	}
}

// serviceKey is a service's key in Supervisor.services: services are
// named per agent.
func serviceKey(agent, name string) string { return agent + "\x00" + name }

// active reports whether svc runs or is between two instances.
func (svc *service) active() bool {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.state == ServiceRunning || svc.state == ServiceRestarting
}

// service finds agent's service by its id (its name).
func (s *Supervisor) service(agent, id string) (*service, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc := s.services[serviceKey(agent, id)]
	if svc == nil || svc.agent != agent {
		return nil, errcode.Fail(errcode.ProcessNotFound, layer.Service, "use process_list to see your services", "no service %q", id)
	}
	return svc, nil
}

// StopService stops a service (no restart) and terminates its tree.
func (s *Supervisor) StopService(agent, serviceID string) (*ServiceStatus, error) {
	if err := s.checkTermination(false, false); err != nil {
		return nil, err
	}
	svc, err := s.service(agent, serviceID)
	if err != nil {
		return nil, err
	}
	svc.stopOnce.Do(func() { close(svc.stopReq) })
	<-svc.finished
	return svc.status(), nil
}

// GetService returns a service's state.
func (s *Supervisor) GetService(agent, serviceID string) (*ServiceStatus, error) {
	svc, err := s.service(agent, serviceID)
	if err != nil {
		return nil, err
	}
	return svc.status(), nil
}
