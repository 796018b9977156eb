package supervisor

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// launchKind says who launches: an agent's call (rate windows apply) or
// the supervisor itself (a service restart: concurrency and totals only).
type launchKind struct {
	kind      string
	serviceID string
	byServer  bool
	// health is the service instance whose containment a health check
	// runs in (its cgroup, outside every launch quota: health.go).
	health *proc
	// run: a process_run, which reads its result from the rings after the
	// exit (the process is kept for it, whatever exitedRetentionSeconds).
	run bool
}

// Start launches spec for agent and returns its status.
func (s *Supervisor) Start(agent string, spec *policy.Spec, o StartOptions) (*Status, error) {
	p, err := s.launch(agent, spec, o, launchKind{kind: KindProcess})
	if err != nil {
		return nil, err
	}
	st := p.status(s.now())
	return &st, nil
}

// pipes are the parent and child ends of a launch's stdio.
type pipes struct {
	parent []*os.File // ours: stdin writer, stdout reader, stderr reader (nil when not piped)
	child  []*os.File // theirs; nil = /dev/null
}

func (ps *pipes) closeChild() {
	for _, f := range ps.child {
		if f != nil {
			f.Close()
		}
	}
}

func (ps *pipes) closeParent() {
	for _, f := range ps.parent {
		if f != nil {
			f.Close()
		}
	}
}

func makePipes(stdin, capture bool) (*pipes, error) {
	ps := &pipes{parent: make([]*os.File, 3), child: make([]*os.File, 3)}
	for i, want := range []bool{stdin, capture, capture} {
		if !want {
			continue
		}
		ours, theirs, err := stdioPipe(i > 0) // 0: stdin, we write; 1, 2: output, we read
		if err != nil {
			ps.closeChild()
			ps.closeParent()
			return nil, err
		}
		ps.parent[i], ps.child[i] = ours, theirs
		if i > 0 {
			growCapturePipe(ours)
		}
	}
	return ps, nil
}

func envNames(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		out = append(out, name)
	}
	return out
}

// launch checks, reserves, starts, records and registers one process.
func (s *Supervisor) launch(agent string, spec *policy.Spec, o StartOptions, lk launchKind) (*proc, error) {
	if spec == nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer.Process, "", "nothing to launch")
	}
	stdinPipe, capture, err := s.stdioModes(&o)
	if err != nil {
		return nil, err
	}
	report, err := s.sandboxReport(spec)
	if err != nil {
		return nil, err
	}
	at, err := s.reserve(agent, lk)
	if err != nil {
		return nil, err
	}

	var egress io.Closer
	// fail undoes everything of a launch that did not happen (the sandbox
	// removes the launch's cgroup: Abort, a failed Start or Release).
	fail := func(sp *sandbox.Process, ps *pipes, err error) (*proc, error) {
		if sp != nil {
			sp.Abort()
		}
		closeEgress(egress)
		if ps != nil {
			ps.closeParent()
		}
		s.unreserveFor(agent, at, lk)
		return nil, err
	}
	if spec.Home != "" {
		// The agent's own HOME, created on its first launch (SPEC 7.1a).
		if err := agenthome.Ensure(spec.Home, s.homeOwner); err != nil {
			return fail(nil, nil, errcode.Fail(errcode.Internal, layer.Environment,
				"check the server's state directory (docs/environment.md, HOME)", "the agent's HOME: %v", err))
		}
	}
	ps, tty, stdio, err := openStdio(o, stdinPipe, capture)
	if err != nil {
		return fail(nil, nil, err)
	}
	// The launch record is written while the launch is set up (the
	// launcher calls lg.record once the child has a pid); the child stays
	// at its gate until Release, so the target runs only once the record is
	// on disk, and never if it fails. An allowlist launch's egress proxy is
	// served first and its record follows (a launch the proxy cannot serve
	// is not recorded as one).
	lg := s.newLaunchLog(agent, spec, o, lk)
	record := lg.record
	if s.egressLaunches {
		record = nil
	}
	sp, err := s.startStage(spec, stdio, lk, record)
	ps.closeChild()
	if lg.err != nil {
		return fail(nil, ps, lg.failed())
	}
	if err != nil {
		e := errcode.As(err)
		lg.ended(e, "setup failed: ")
		return fail(nil, ps, e)
	}
	if egress, err = s.serveEgress(sp, LaunchInfo{Agent: agent, PID: sp.Pid, Executable: spec.Path, Tool: o.Tool, ServiceID: lk.serviceID}); err != nil {
		lg.ended(errcode.As(err), "setup failed: ")
		return fail(sp, ps, err)
	}
	if record == nil {
		if err := lg.record(sp.Pid); err != nil {
			return fail(sp, ps, lg.failed())
		}
	}
	if err := sp.Release(); err != nil {
		e := errcode.As(err)
		lg.ended(e, "exec failed: ")
		return fail(nil, ps, e)
	}

	p := s.newProc(agent, spec, o, lk, sp, ps, tty, egress, capture)
	p.report = report
	s.register(p, lk)
	return p, nil
}

// launchLog is one launch's records: the launch record, written by the
// launcher (record) once the child has a pid, and, when the launch then
// fails before its target runs, the exit record that says how.
type launchLog struct {
	s   *Supervisor
	rec audit.Record
	err error // the launch record's failure
}

func (s *Supervisor) newLaunchLog(agent string, spec *policy.Spec, o StartOptions, lk launchKind) *launchLog {
	args := []string{}
	if len(spec.Argv) > 1 {
		args = spec.Argv[1:]
	}
	return &launchLog{s: s, rec: audit.Record{Event: audit.EventLaunch, Agent: agent, Tool: o.Tool,
		Executable: spec.Path, Args: args, Cwd: spec.Dir, EnvNames: envNames(spec.Env), Decision: "allow",
		ServiceID: lk.serviceID}}
}

// record writes the launch record for pid (the launcher's callback).
func (l *launchLog) record(pid int) error {
	l.rec.PID = pid
	l.err = l.s.record(l.rec)
	return l.err
}

// failed is the call's error when the launch record could not be written.
func (l *launchLog) failed() error {
	return errcode.Fail(errcode.Internal, layer.Audit, "fix the audit log (disk full? permissions?)",
		"the launch record could not be written, so the process was killed before it ran: %v", l.err)
}

// ended records the end of a launch that failed before its target ran,
// when its launch record is on disk (what: "setup failed: ", "exec
// failed: ").
func (l *launchLog) ended(e *errcode.Error, what string) {
	if l.rec.PID == 0 || l.err != nil { // no launch record on disk
		return
	}
	r := l.rec
	l.s.recordOrWarn(audit.Record{Event: audit.EventExit, Agent: r.Agent, Tool: r.Tool, PID: r.PID, Executable: r.Executable,
		Decision: "deny", Layer: e.Layer, Code: string(e.Code), Reason: what + e.Message, ServiceID: r.ServiceID})
}

// sandboxReport is what a launch of spec gets: the layers applied and the
// requested limits this host cannot enforce (refused with
// strictResourceEnforcement).
func (s *Supervisor) sandboxReport(spec *policy.Spec) (SandboxReport, error) {
	applied, notEnforced := s.support.Enforcement(spec.Limits)
	applied = append(applied, s.isolation...)
	if s.cfg.StrictResourceEnforcement && len(notEnforced) > 0 {
		return SandboxReport{}, errcode.Deny(errcode.LayerUnavailable, layer.ResourceLimits,
			"leave the limit unset or disable strictResourceEnforcement",
			"resource limit %s cannot be enforced here and strictResourceEnforcement is on", notEnforced[0])
	}
	return SandboxReport{Applied: applied, NotEnforced: nonNil(notEnforced)}, nil
}

// reserve takes a launch's place in the quotas (reserveFor), unless the
// supervisor is shutting down.
func (s *Supervisor) reserve(agent string, lk launchKind) (time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return time.Time{}, errcode.Fail(errcode.Internal, layer.Process, "", "the server is shutting down")
	}
	at, qerr := s.reserveFor(agent, lk)
	if qerr != nil {
		return at, qerr
	}
	return at, nil
}

// register makes the released p known (replacing a retained exited
// process whose pid was reused) and starts its goroutines (watch, the
// output readers, the CPU-time watch) and its lifetime timer; the
// reservation's WaitGroup token passes to them.
func (s *Supervisor) register(p *proc, lk launchKind) {
	agent, spec := p.agent, p.spec
	s.mu.Lock()
	if old := s.procs[p.pid]; old != nil {
		s.forgetLocked(p.pid, old) // a retained exited process whose pid was reused
	}
	s.procs[p.pid] = p
	closed := s.closed
	watchLimits := p.cg != nil && spec.Limits.MaxCpuTime > 0 // memory: the kernel (package cgroup)
	s.wg.Add(1 + len(p.readEnds))
	if watchLimits {
		s.wg.Add(1)
	}
	s.mu.Unlock()

	if s.opts.OnStateChange != nil && lk.health == nil {
		s.opts.OnStateChange(agent, p.pid, true)
	}
	go s.watch(p)
	if watchLimits {
		go s.watchLimits(p)
	}
	for i, f := range p.readEnds {
		go s.read(p, f, []*ring{p.out, p.errb}[i], []string{"stdout", "stderr"}[i])
	}
	s.armLifetime(p)
	if closed {
		p.requestStop(ReasonServerShutdown, 0)
	}
	s.wg.Done() // the reservation's token: the goroutines above hold their own
}

// stdioModes checks o's terminal and stdin options and says whether the
// child gets a stdin pipe and whether its output is captured.
func (s *Supervisor) stdioModes(o *StartOptions) (stdinPipe, capture bool, err error) {
	if err := checkTerminalOptions(o); err != nil {
		return false, false, err
	}
	switch o.Stdin {
	case "", StdinPipe:
		// /dev/null when stdin input is not allowed: nobody could ever feed the pipe.
		stdinPipe = s.cfg.AllowStdinInput
	case StdinNull:
	default:
		return false, false, errcode.Fail(errcode.InvalidInput, layer.Process, `use "pipe" or "null"`, "unknown stdin mode %q", o.Stdin)
	}
	return stdinPipe, o.CaptureOutput && s.cfg.AllowOutputCapture, nil
}

// openStdio makes the child's stdio: a pseudo-terminal (o.PTY) or pipes.
func openStdio(o StartOptions, stdinPipe, capture bool) (*pipes, *terminal, sandbox.Stdio, error) {
	if o.PTY {
		ps, tty, err := makeTerminal(o)
		if err != nil {
			return nil, nil, sandbox.Stdio{}, err
		}
		return ps, tty, sandbox.Stdio{Stdin: ps.child[0], Stdout: ps.child[0], Stderr: ps.child[0], Terminal: true}, nil
	}
	ps, err := makePipes(stdinPipe, capture)
	if err != nil {
		return nil, nil, sandbox.Stdio{}, errcode.Fail(errcode.Internal, layer.Process, "", "create pipes: %v", err)
	}
	return ps, nil, sandbox.Stdio{Stdin: ps.child[0], Stdout: ps.child[1], Stderr: ps.child[2]}, nil
}

// startStage hands the launch to an init stage. When it returns, the stage
// waits at its gate in its cgroup, with the limits in place, before the
// target can run, fork or allocate. A health check's stage then moves into
// its service instance's group (health.go), whose limits count it.
func (s *Supervisor) startStage(spec *policy.Spec, stdio sandbox.Stdio, lk launchKind, record func(int) error) (*sandbox.Process, error) {
	if lk.health == nil && record != nil {
		// Nothing is decided between the record and Release here (an
		// egress launch's record comes after its proxy: record is nil).
		return s.launcher.StartCommitted(spec, stdio, record)
	}
	sp, err := s.launcher.StartRecorded(spec, stdio, record)
	if err != nil || lk.health == nil {
		return sp, err
	}
	if err := joinInstance(lk.health)(sp); err != nil {
		sp.Abort() // at its gate: nothing ran
		return nil, err
	}
	return sp, nil
}

// newProc is the record of a released launch: its cgroup (ours now,
// removed in watch after the reap), its stdin and the rings its output
// goes to.
func (s *Supervisor) newProc(agent string, spec *policy.Spec, o StartOptions, lk launchKind, sp *sandbox.Process,
	ps *pipes, tty *terminal, egress io.Closer, capture bool) *proc {
	name := o.Name
	if name == "" {
		name = spec.Path[strings.LastIndexByte(spec.Path, '/')+1:]
	}
	p := &proc{
		agent: agent, name: name, tool: o.Tool, kind: lk.kind, serviceID: lk.serviceID,
		pid: sp.Pid, spec: spec, sp: sp, cg: sp.Cgroup(), egress: egress, start: s.now(),
		readDone: make(chan struct{}, 2), done: make(chan struct{}),
		stdin: ps.parent[0], tty: tty,
	}
	p.stdinOpen.Store(p.stdin != nil)
	if lk.run {
		p.reading.Store(1) // before anyone can see it exit: Run gives it back
	}
	if capture {
		p.out, p.errb = newRing(s.cfg.MaxOutputBufferSize, s.pool), newRing(s.cfg.MaxOutputBufferSize, s.pool)
		p.readEnds = []*os.File{ps.parent[1], ps.parent[2]}
	}
	if tty != nil {
		// One stream: the terminal's output is stdout; stderr stays empty.
		// Read even without capture (then discarded): a terminal nobody
		// reads blocks its writers.
		p.readEnds = []*os.File{ps.parent[1]}
		if p.errb != nil {
			p.errb.close()
		}
	}
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
