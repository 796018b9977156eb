// Package supervisor owns every managed process: it reserves the launch
// quotas atomically, starts children through the sandbox, keeps their output
// in ring buffers, feeds their stdin, enforces their lifetime, terminates
// whole trees, runs groups, pipelines and services, and forgets exited
// processes after exitedRetentionSeconds.
//
// Guarantees: an agent only ever sees and controls its own processes (any
// other pid is PROCESS_NOT_FOUND, so existence is never revealed); quotas
// are checked and reserved under one lock before a child starts, and a
// refused launch consumes none; every state change is an audit record,
// written before the call returns, and a launch whose record cannot be
// written is killed and fails; captured output is bounded per stream
// (maxOutputBufferSize, capacity included) and for the whole server
// (maxRetainedOutputBytes: the oldest exited processes' output goes
// first, their status stays); every goroutine it starts ends by Shutdown,
// which also kills every child tree. It never writes to stdout.
package supervisor

import (
	"context"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

const (
	defaultOutputBuffer   = 10 << 20
	defaultTermTimeout    = 5 * time.Second
	limitGrace            = 5 * time.Second // SIGTERM → SIGKILL for lifetime/timeout
	shutdownGrace         = 2 * time.Second
	defaultWaitTimeout    = 30 * time.Second
	readerDrainAfterExit  = 2 * time.Second
	stdinWriteTimeout     = 5 * time.Second
	sampleInterval        = time.Second
	historySize           = 60
	janitorInterval       = time.Second
	terminateWaitSlack    = 30 * time.Second
	defaultHealthInterval = 10 * time.Second
	defaultHealthTimeout  = 5 * time.Second
	minHealthInterval     = time.Second // SPEC 7.2: a shorter healthCheck.interval is INVALID_INPUT
)

// Supervisor owns every managed process. Create it with New and stop it
// with Shutdown.
type Supervisor struct {
	opts     Options
	cfg      *config.Config
	now      func() time.Time
	launcher *sandbox.Launcher
	pool     *outputPool // maxRetainedOutputBytes over every ring

	mu       sync.Mutex
	closed   bool
	procs    map[int]*proc
	running  int
	perAgent map[string]int
	total    int
	launches map[string]launchTimes // per agent, the last hour (kept only with a launch rate limit)
	cooldown map[string]time.Time
	// exited is every exited process in exit order, for the janitor: it
	// forgets from the front and stops at the first one still kept.
	exited    []*proc
	groups    map[string]*group
	nextGroup int
	services  map[string]*service // by serviceKey(agent, name)
	// svcStarting holds the keys of services being launched: a name is
	// taken from the check until the service is in services (or failed).
	svcStarting map[string]bool
	// support is what the launcher's cgroups enforce (fixed at New).
	support sandbox.Support
	// isolation names the isolation layers every child gets (launch reports).
	isolation []string
	// homeOwner owns the agents' HOME directories (the children's host ids).
	homeOwner agenthome.Owner
	// egressLaunches: every launch has egress listeners to serve (the
	// allowlist mode); their launch record follows the proxy's serving.
	egressLaunches bool

	stop         chan struct{} // closed by Shutdown: every loop ends
	shutdownDone chan struct{}
	wg           sync.WaitGroup // every goroutine the supervisor started
}

// proc is one managed process.
type proc struct {
	agent, name, tool string
	kind, serviceID   string
	pid               int
	spec              *policy.Spec
	sp                *sandbox.Process
	cg                *cgroup.Group // nil without cgroups; removed after the reap
	egress            io.Closer     // the EgressServer's, closed once the tree ended; nil without
	start             time.Time
	report            SandboxReport
	out, errb         *ring // nil without capture
	readDone          chan struct{}
	readEnds          []*os.File
	done              chan struct{} // closed once reaped, drained and recorded
	// reading: a process_run that has yet to read its result from this
	// process's rings, or a pipeline's pipe still copying its output to
	// the next member; the janitor keeps the process until they have.
	reading atomic.Int32

	stdinMu   sync.Mutex
	stdin     *os.File    // nil: /dev/null, or closed
	stdinOpen atomic.Bool // stdin != nil, readable without stdinMu
	tty       *terminal   // nil unless the process runs on a pseudo-terminal (pty.go)

	mu        sync.Mutex // guards what follows
	exited    bool
	end       time.Time
	exitCode  *int
	signal    string
	reason    string // the stop the server asked for (first wins; terminated → killed)
	groupID   string
	killAt    time.Time
	killTimer *time.Timer
	lifeTimer *time.Timer
	stats     statsState
}

// New returns a running Supervisor; call Shutdown to stop it.
func New(opts Options) *Supervisor {
	if opts.Config == nil {
		opts.Config = &config.Config{}
	}
	s := &Supervisor{
		opts: opts,
		cfg:  opts.Config,
		now:  opts.Now,

		procs:        map[int]*proc{},
		perAgent:     map[string]int{},
		launches:     map[string]launchTimes{},
		cooldown:     map[string]time.Time{},
		groups:       map[string]*group{},
		services:     map[string]*service{},
		svcStarting:  map[string]bool{},
		stop:         make(chan struct{}),
		shutdownDone: make(chan struct{}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	retain := s.cfg.MaxRetainedOutputBytes
	if retain <= 0 {
		retain = config.DefaultMaxRetainedOutputBytes
	}
	s.pool = newOutputPool(retain)
	// The isolation is server-wide: warm stages are cloned with it. If it
	// cannot be built (config.Load has already refused what the host cannot
	// enforce), every launch fails with the reason: never less isolation.
	var iso sandbox.Isolation
	if opts.Isolation != nil {
		iso = *opts.Isolation
	} else {
		iso, _ = sandbox.IsolationFor(s.cfg)
	}
	s.isolation = iso.Layers()
	s.homeOwner = iso.HomeOwner()
	s.egressLaunches = iso.Network == config.NetworkProxy
	// Most launches ask for the default limits (policy.EffectiveLimits
	// fills a request's zero limits from them): pooled cgroups carry them.
	s.launcher = sandbox.NewLauncher(sandbox.LauncherOptions{Isolation: iso, Cgroups: opts.Cgroups,
		GroupLimits: s.cfg.DefaultResourceLimits})
	s.support = s.launcher.Support()
	s.wg.Add(2)
	go s.janitor()
	go s.sampler()
	return s
}

func (s *Supervisor) record(r audit.Record) error {
	if s.opts.Audit == nil {
		return nil
	}
	if r.Level == "" {
		r.Level = audit.LevelInfo
	}
	return s.opts.Audit.Record(r)
}

// auditFailed is the error of a call whose audit record could not be
// written (SPEC 6: the call fails with INTERNAL).
func auditFailed(err error) *errcode.Error {
	return errcode.Fail(errcode.Internal, layer.Audit, "fix the audit log (disk full? permissions?)",
		"the audit record could not be written: %v", err)
}

func notFound(pid int) *errcode.Error {
	return errcode.Fail(errcode.ProcessNotFound, layer.Process, "use process_list to see your processes",
		"no process %d", pid)
}

// lookup returns agent's process pid (retained exited ones included).
func (s *Supervisor) lookup(agent string, pid int) (*proc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[pid]
	if p == nil || p.agent != agent {
		return nil, notFound(pid)
	}
	return p, nil
}

func (s *Supervisor) retention() time.Duration {
	return time.Duration(max(s.cfg.ExitedRetentionSeconds, 0)) * time.Second
}

// limitGrace is the SIGTERM → SIGKILL grace when the server's own limits
// stop a process: none with strictResourceEnforcement.
func (s *Supervisor) limitGrace() time.Duration {
	if s.cfg.StrictResourceEnforcement {
		return 0
	}
	return limitGrace
}

func fmtTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z07:00") }

// status snapshots p.
func (p *proc) status(now time.Time) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	args := []string{}
	if len(p.spec.Argv) > 1 {
		args = slices.Clone(p.spec.Argv[1:])
	}
	st := Status{
		Pid: p.pid, Name: p.name, Command: p.spec.Path, Args: args, State: StateRunning,
		StartTime: fmtTime(p.start), Kind: p.kind, GroupID: p.groupID, ServiceID: p.serviceID,
		Limits: p.spec.Limits, Sandbox: p.report,
	}
	if p.exited {
		st.State = StateExited
		st.EndTime = fmtTime(p.end)
		st.Uptime = p.end.Sub(p.start).Seconds()
		if p.exitCode != nil {
			c := *p.exitCode
			st.ExitCode = &c
		}
		st.Signal = p.signal
		st.TerminationReason = p.reason
	} else {
		st.Uptime = now.Sub(p.start).Seconds()
	}
	if p.tty != nil {
		st.Pty, st.Terminal = true, p.tty.size()
	}
	return st
}

func (p *proc) isExited() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exited
}

// requestStop asks p's tree to stop for reason: SIGTERM to the group and
// SIGKILL after grace (at once when grace <= 0). The first reason stays,
// except that "terminated" becomes "killed" when SIGKILL is needed.
func (p *proc) requestStop(reason string, grace time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exited {
		return
	}
	if p.reason == "" || (p.reason == ReasonTerminated && reason == ReasonKilled) {
		p.reason = reason
	}
	if grace <= 0 {
		p.killLocked()
		return
	}
	p.signalTree(syscall.SIGTERM)
	at := time.Now().Add(grace)
	if p.killTimer != nil && !at.Before(p.killAt) {
		return // an earlier escalation is already armed
	}
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	p.killAt = at
	p.killTimer = time.AfterFunc(grace, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if !p.exited {
			p.killLocked()
		}
	})
}

func (p *proc) killLocked() {
	if p.reason == ReasonTerminated {
		p.reason = ReasonKilled
	}
	p.signalTree(syscall.SIGKILL)
}

// Status returns agent's process pid with its latest stats.
func (s *Supervisor) Status(agent string, pid int) (*Status, error) {
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	st := p.status(s.now())
	st.Stats = s.stats(p, false)
	return &st, nil
}

// List returns agent's processes (state "" = all, "running" or "exited"),
// oldest first.
func (s *Supervisor) List(agent string, state string) []Status {
	s.mu.Lock()
	var ps []*proc
	for _, p := range s.procs {
		if p.agent == agent {
			ps = append(ps, p)
		}
	}
	s.mu.Unlock()
	now := s.now()
	out := []Status{}
	for _, p := range ps {
		st := p.status(now)
		if state == "" || state == st.State {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b Status) int {
		if c := strings.Compare(a.StartTime, b.StartTime); c != 0 {
			return c
		}
		return a.Pid - b.Pid
	})
	return out
}

// Live returns the pids of agent's running processes.
func (s *Supervisor) Live(agent string) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int
	for pid, p := range s.procs {
		if p.agent == agent && !p.isExited() {
			out = append(out, pid)
		}
	}
	slices.Sort(out)
	return out
}

// Wait waits up to timeout (<= 0: 30 s) for agent's process pid to exit and
// returns its status, still "running" if the wait timed out.
func (s *Supervisor) Wait(ctx context.Context, agent string, pid int, timeout time.Duration) (*Status, error) {
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	if timeout <= 0 {
		timeout = defaultWaitTimeout
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	st := p.status(s.now())
	return &st, nil
}

// janitor forgets exited processes after exitedRetentionSeconds.
func (s *Supervisor) janitor() {
	defer s.wg.Done()
	t := time.NewTicker(janitorInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		cutoff := s.now().Add(-s.retention())
		s.mu.Lock()
		s.sweepLocked(cutoff)
		s.mu.Unlock()
	}
}

// sweepLocked forgets the processes that exited before cutoff, the
// earliest exit first, and stops at the first one still kept: a pass
// costs what it forgets, not every process the table holds. One that a
// process_run is still reading is kept for a later pass. Two exits queued
// out of order by their watchers delay the later-queued one by a pass at
// most.
func (s *Supervisor) sweepLocked(cutoff time.Time) {
	n := 0
	var held []*proc
	for _, p := range s.exited {
		p.mu.Lock()
		old := p.end.Before(cutoff)
		p.mu.Unlock()
		if !old {
			break
		}
		n++
		if p.reading.Load() > 0 {
			held = append(held, p)
			continue
		}
		// Its pid may be another process's by now (register forgot it
		// then, but kept the output that was still being read).
		s.forgetLocked(p.pid, p)
	}
	if len(held) > 0 {
		s.exited = append(held, s.exited[n:]...)
		return
	}
	clear(s.exited[:n])
	s.exited = s.exited[n:]
}

// forgetLocked drops p from the table (unless pid is another process's
// by now), its group and its service, and gives its output back to the
// pool, unless a process_run or a pipeline's pipe still reads it
// (reading: a pid reused within that time, register): the output then
// goes when the janitor reaches p's exit (sweepLocked), once read. Each
// step may be done again.
func (s *Supervisor) forgetLocked(pid int, p *proc) {
	if s.procs[pid] == p {
		delete(s.procs, pid)
	}
	if p.reading.Load() == 0 {
		s.pool.forget(p.out, p.errb)
	}
	s.forgetLinksLocked(p) // forget.go: its group's and service's hold on it
}

// Shutdown terminates every process and service (reason server-shutdown:
// SIGTERM, SIGKILL after 2 s, or at once when ctx ends), waits for every
// reap and stops every goroutine the supervisor started. Later launches fail.
func (s *Supervisor) Shutdown(ctx context.Context) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.shutdownDone
		return
	}
	s.closed = true
	var ps []*proc
	for _, p := range s.procs {
		ps = append(ps, p)
	}
	s.mu.Unlock()

	// Loops learn of the shutdown first, so a service whose instance dies
	// now is not restarted (nor reported failed).
	close(s.stop)
	for _, p := range ps {
		p.requestStop(ReasonServerShutdown, shutdownGrace)
	}
	for _, p := range ps {
		select {
		case <-p.done:
		case <-ctx.Done():
			p.requestStop(ReasonServerShutdown, 0)
			<-p.done
		}
	}
	s.wg.Wait()
	s.launcher.Close()
	close(s.shutdownDone)
}
