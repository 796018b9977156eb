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
	hcSpec, err := s.checkServiceRequest(agent, req)
	if err != nil {
		return nil, err
	}
	// The service's id is its name, unique among the agent's services that
	// run (SPEC 7.3); a stopped or failed service's name can be reused.
	name := req.Name
	id := name
	key := serviceKey(agent, name)
	if err := s.reserveService(key, name); err != nil {
		return nil, err
	}
	p, err := s.launch(agent, req.Spec, serviceOpts(req), launchKind{kind: KindService, serviceID: id})
	if err != nil {
		s.mu.Lock()
		delete(s.svcStarting, key)
		s.mu.Unlock()
		return nil, err
	}
	svc := &service{id: id, name: name, agent: agent, req: req, stopReq: make(chan struct{}), finished: make(chan struct{}),
		state: ServiceRunning, cur: p, health: HealthUnknown, hcSpec: hcSpec}
	if !s.manageService(key, svc) {
		return svc.status(), nil
	}
	if err := s.record(audit.Record{Event: audit.EventService, Agent: agent, Tool: req.Tool, ServiceID: id,
		PID: p.pid, Executable: req.Spec.Path, Reason: "started"}); err != nil {
		return nil, auditFailed(err)
	}
	return svc.status(), nil
}

// checkServiceRequest checks what StartService is asked, before anything
// runs: something to launch, a health check that can run (its command
// authorized as the agent's: its Spec is returned), restart values, a
// name.
func (s *Supervisor) checkServiceRequest(agent string, req ServiceRequest) (*policy.Spec, error) {
	if req.Spec == nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "", "nothing to launch")
	}
	var hcSpec *policy.Spec
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
		var derr *errcode.Error
		if hcSpec, derr = s.opts.Authorize(agent, s.healthRequest(agent, req)); derr != nil {
			return nil, derr
		}
	}
	if req.RestartPolicy.MaxRetries < 0 || req.RestartPolicy.BackoffMs < 0 {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "", "restartPolicy values cannot be negative")
	}
	if req.Name == "" {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Service, "give the service a name: it is its serviceId", "the service name is empty")
	}
	if err := checkName(layer.Service, req.Name); err != nil {
		return nil, err
	}
	return hcSpec, nil
}

// reserveService marks the service key as starting, refused while a
// service of that name runs or starts for the agent.
func (s *Supervisor) reserveService(key, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.services[key]; s.svcStarting[key] || (old != nil && old.active()) {
		return errcode.Fail(errcode.InvalidInput, layer.Service,
			"stop it first (process_stop_service with serviceId "+strconv.Quote(name)+"), or choose another name",
			"a service named %q is already running for this agent", name)
	}
	s.svcStarting[key] = true
	return nil
}

// manageService registers the started svc under key and starts its
// manager (and health check loop). It reports false when the supervisor
// is shutting down: svc's process is then being stopped, and svc is
// recorded as stopped once it has exited.
func (s *Supervisor) manageService(key string, svc *service) bool {
	p := svc.cur
	s.mu.Lock()
	delete(s.svcStarting, key)
	s.services[key] = svc
	if s.closed {
		s.mu.Unlock()
		// Shutdown is stopping p; nobody will manage it.
		<-p.done
		svc.set(func() { svc.state = ServiceStopped; svc.lastExit = exitInfo(p) })
		close(svc.finished)
		return false
	}
	s.wg.Add(1)
	if svc.req.HealthCheck != nil {
		s.wg.Add(1)
		go s.checkHealthLoop(svc)
	}
	s.mu.Unlock()
	go s.manage(svc)
	return true
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
		stopping := s.awaitInstance(svc, p)
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
		if !s.restartService(svc, restarts) {
			return
		}
	}
}

// awaitInstance waits until svc's instance p has ended: on its own, or
// stopped on request (process_stop_service) or by the server's shutdown.
// It reports whether the service is stopping (the two latter).
func (s *Supervisor) awaitInstance(svc *service, p *proc) (stopping bool) {
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
	return stopping
}

// restartService starts svc's next instance after its backoff (restarts
// so far: restarts). It reports false when the service ended instead
// (stopped during the backoff, or the restart refused), recorded by
// serviceEnd.
func (s *Supervisor) restartService(svc *service, restarts int) bool {
	rp := svc.req.RestartPolicy
	svc.set(func() { svc.state = ServiceRestarting })
	t := time.NewTimer(time.Duration(rp.BackoffMs) * time.Millisecond)
	select {
	case <-t.C:
	case <-svc.stopReq:
		t.Stop()
		s.serviceEnd(svc, ServiceStopped, "stopped")
		return false
	case <-s.stop:
		t.Stop()
		s.serviceEnd(svc, ServiceStopped, "stopped")
		return false
	}
	// The previous instance is reaped (p.done): restarts never overlap.
	np, err := s.launch(svc.agent, svc.req.Spec, serviceOpts(svc.req), launchKind{kind: KindService, serviceID: svc.id, byServer: true})
	if err != nil {
		select {
		case <-s.stop: // refused because the server is stopping
			s.serviceEnd(svc, ServiceStopped, "stopped")
			return false
		default:
		}
		svc.set(func() { svc.errMsg = "restart refused: " + err.Error() })
		s.serviceEnd(svc, ServiceFailed, "restart refused")
		return false
	}
	svc.set(func() { svc.cur = np; svc.restarts++; svc.state = ServiceRunning })
	s.recordOrWarn(audit.Record{Event: audit.EventService, Agent: svc.agent, ServiceID: svc.id, PID: np.pid,
		Executable: svc.req.Spec.Path, Reason: fmt.Sprintf("restarted (%d/%d)", restarts+1, rp.MaxRetries)})
	return true
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
