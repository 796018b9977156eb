package supervisor

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
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

// reserveLocked checks every launch quota and, when all pass, reserves one
// launch. A refusal consumes nothing.
func (s *Supervisor) reserveLocked(agent string, byServer bool) (time.Time, *errcode.Error) {
	now := s.now()
	c := s.cfg
	if !byServer {
		if until, ok := s.cooldown[agent]; ok && now.Before(until) {
			return now, rateLimited(until.Sub(now), "agent %q is cooling down after exceeding a launch rate limit", agent)
		}
		delete(s.cooldown, agent)
	}
	if c.MaxConcurrentProcesses > 0 && s.running >= c.MaxConcurrentProcesses {
		return now, errcode.Deny(errcode.ConcurrencyLimit, "limits", "wait for a process to exit or terminate one",
			"%d processes are running, the maximum (maxConcurrentProcesses)", s.running)
	}
	if c.MaxConcurrentProcessesPerAgent > 0 && s.perAgent[agent] >= c.MaxConcurrentProcessesPerAgent {
		return now, errcode.Deny(errcode.ConcurrencyLimit, "limits", "wait for one of your processes to exit or terminate one",
			"agent %q has %d processes running, the maximum (maxConcurrentProcessesPerAgent)", agent, s.perAgent[agent])
	}
	if c.MaxTotalProcesses > 0 && s.total >= c.MaxTotalProcesses {
		return now, errcode.Deny(errcode.TotalLimit, "limits", "restart the server to reset maxTotalProcesses",
			"this server has launched %d processes, the maximum over its life (maxTotalProcesses)", s.total)
	}
	if !byServer {
		times := slices.DeleteFunc(s.launches[agent], func(t time.Time) bool { return !t.After(now.Add(-time.Hour)) })
		s.launches[agent] = times
		for _, w := range []struct {
			max  int
			span time.Duration
			key  string
		}{{c.MaxLaunchesPerMinute, time.Minute, "maxLaunchesPerMinute"}, {c.MaxLaunchesPerHour, time.Hour, "maxLaunchesPerHour"}} {
			if w.max <= 0 {
				continue
			}
			in := 0
			var oldest time.Time
			for _, t := range times {
				if t.After(now.Add(-w.span)) {
					if in == 0 {
						oldest = t
					}
					in++
				}
			}
			if in >= w.max {
				wait := oldest.Add(w.span).Sub(now)
				if cd := time.Duration(c.RateLimitCooldownSeconds) * time.Second; cd > wait {
					wait = cd
				}
				s.cooldown[agent] = now.Add(wait)
				return now, rateLimited(wait, "agent %q reached %d launches in %s (%s)", agent, w.max, w.span, w.key)
			}
		}
		s.launches[agent] = append(times, now)
	}
	s.running++
	s.perAgent[agent]++
	s.total++
	s.wg.Add(1) // the launch in progress: Shutdown waits for it
	return now, nil
}

func rateLimited(wait time.Duration, format string, a ...any) *errcode.Error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	e := errcode.Deny(errcode.RateLimited, "rate", fmt.Sprintf("retry in %d s", secs),
		format+fmt.Sprintf("; retry in %d s", secs), a...)
	e.RetryAfterSeconds = secs
	return e
}

// unreserve gives back a reservation whose launch failed.
func (s *Supervisor) unreserve(agent string, at time.Time, byServer bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.perAgent[agent]--
	s.total--
	if !byServer {
		ts := s.launches[agent]
		if i := slices.IndexFunc(ts, func(t time.Time) bool { return t.Equal(at) }); i >= 0 {
			s.launches[agent] = slices.Delete(ts, i, i+1)
		}
	}
	s.wg.Done()
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
		r, w, err := os.Pipe()
		if err != nil {
			ps.closeChild()
			ps.closeParent()
			return nil, err
		}
		if i == 0 {
			ps.parent[i], ps.child[i] = w, r
		} else {
			ps.parent[i], ps.child[i] = r, w
			growCapturePipe(r)
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
		return nil, errcode.Fail(errcode.InvalidInput, "process", "", "nothing to launch")
	}
	stdinPipe, capture, err := s.stdioModes(&o)
	if err != nil {
		return nil, err
	}
	applied, notEnforced := s.support.Enforcement(spec.Limits)
	applied = append(applied, s.isolation...)
	if s.cfg.StrictResourceEnforcement && len(notEnforced) > 0 {
		return nil, errcode.Deny(errcode.LayerUnavailable, "limits",
			"leave the limit unset or disable strictResourceEnforcement",
			"resource limit %s cannot be enforced here and strictResourceEnforcement is on", notEnforced[0])
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errcode.Fail(errcode.Internal, "process", "", "the server is shutting down")
	}
	at, qerr := s.reserveFor(agent, lk)
	s.mu.Unlock()
	if qerr != nil {
		return nil, qerr
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
			return fail(nil, nil, errcode.Fail(errcode.Internal, "environment",
				"check the server's state directory (docs/environment.md, HOME)", "the agent's HOME: %v", err))
		}
	}
	ps, tty, stdio, err := openStdio(o, stdinPipe, capture)
	if err != nil {
		return fail(nil, nil, err)
	}
	sp, err := s.startStage(spec, stdio, lk)
	ps.closeChild()
	if err != nil {
		return fail(nil, ps, errcode.As(err))
	}
	if egress, err = s.serveEgress(sp, LaunchInfo{Agent: agent, PID: sp.Pid, Executable: spec.Path, Tool: o.Tool, ServiceID: lk.serviceID}); err != nil {
		return fail(sp, ps, err)
	}
	args := []string{}
	if len(spec.Argv) > 1 {
		args = spec.Argv[1:]
	}
	// The init stage holds the target at its gate: it execs only once the
	// record is on disk (Release), and never if the record fails (Abort).
	if err := s.record(audit.Record{Event: audit.EventLaunch, Agent: agent, Tool: o.Tool, PID: sp.Pid,
		Executable: spec.Path, Args: args, Cwd: spec.Dir, EnvNames: envNames(spec.Env), Decision: "allow",
		ServiceID: lk.serviceID}); err != nil {
		return fail(sp, ps, errcode.Fail(errcode.Internal, "audit", "fix the audit log (disk full? permissions?)",
			"the launch record could not be written, so the process was killed before it ran: %v", err))
	}
	if err := sp.Release(); err != nil {
		e := errcode.As(err)
		// The launch record is on disk: say how it ended.
		s.recordOrWarn(audit.Record{Event: audit.EventExit, Agent: agent, Tool: o.Tool, PID: sp.Pid, Executable: spec.Path,
			Decision: "deny", Layer: e.Layer, Code: string(e.Code), Reason: "exec failed: " + e.Message, ServiceID: lk.serviceID})
		return fail(nil, ps, e)
	}

	p := s.newProc(agent, spec, o, lk, sp, ps, tty, egress, capture)
	p.report = SandboxReport{Applied: applied, NotEnforced: nonNil(notEnforced)}

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
	return p, nil
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
		return false, false, errcode.Fail(errcode.InvalidInput, "process", `use "pipe" or "null"`, "unknown stdin mode %q", o.Stdin)
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
		return nil, nil, sandbox.Stdio{}, errcode.Fail(errcode.Internal, "process", "", "create pipes: %v", err)
	}
	return ps, nil, sandbox.Stdio{Stdin: ps.child[0], Stdout: ps.child[1], Stderr: ps.child[2]}, nil
}

// startStage hands the launch to an init stage. When it returns, the stage
// waits at its gate in its cgroup, with the limits in place, before the
// target can run, fork or allocate. A health check's stage then moves into
// its service instance's group (health.go), whose limits count it.
func (s *Supervisor) startStage(spec *policy.Spec, stdio sandbox.Stdio, lk launchKind) (*sandbox.Process, error) {
	if lk.health != nil {
		return s.launcher.StartWith(spec, stdio, joinInstance(lk.health))
	}
	return s.launcher.Start(spec, stdio)
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

// armLifetime stops p when its lifetime (spec.Lifetime, else
// maxProcessLifetime) ends: "lifetime" when that is maxProcessLifetime,
// "timeout" when the request shortened it.
func (s *Supervisor) armLifetime(p *proc) {
	max := time.Duration(s.cfg.MaxProcessLifetime) * time.Second
	life := p.spec.Lifetime
	if life <= 0 || (max > 0 && life > max) {
		life = max
	}
	if life <= 0 {
		return
	}
	reason := ReasonTimeout
	if life == max {
		reason = ReasonLifetime
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.exited {
		grace := s.limitGrace()
		p.lifeTimer = time.AfterFunc(life, func() { p.requestStop(reason, grace) })
	}
}

// read copies one output pipe into its ring until EOF (a terminal's
// master: EIO once no slave is open).
func (s *Supervisor) read(p *proc, f *os.File, r *ring, stream string) {
	defer s.wg.Done()
	defer func() {
		if r != nil {
			r.close()
		}
		f.Close()
		p.readDone <- struct{}{}
	}()
	// r nil: a terminal's output without capture, discarded.
	readOutput(f, r, func() {
		if s.opts.OnOutput != nil {
			s.opts.OnOutput(p.pid, stream)
		}
	})
}

// watch reaps p, drains its output, records the exit and releases its
// concurrency slot.
func (s *Supervisor) watch(p *proc) {
	defer s.wg.Done()
	st := p.sp.Wait() // also kills what is left of the process group
	if p.cg != nil {
		// Descendants that left the process group (setsid, double fork)
		// are still in the cgroup: kill them all, race-free. (An empty
		// group, the usual case, costs one read.)
		if pop, err := p.cg.Populated(); err != nil || pop {
			p.cg.Kill()
		}
	}
	closeEgress(p.egress) // the tree has ended
	// The group is dead, so the pipes reach EOF; a descendant that left the
	// group could hold them open: stop waiting for it after a while.
	drain := time.NewTimer(readerDrainAfterExit)
	for n := len(p.readEnds); n > 0; {
		select {
		case <-p.readDone:
			n--
		case <-drain.C:
			for _, f := range p.readEnds {
				f.Close()
			}
		}
	}
	drain.Stop()
	// Its output is complete: the first to go when the server's retained
	// output reaches maxRetainedOutputBytes.
	s.pool.exit(p.out, p.errb)

	p.mu.Lock()
	p.exited = true
	p.end = s.now()
	p.exitCode = st.ExitCode
	p.signal = sandbox.SignalName(st.Signal)
	if p.reason == "" {
		p.reason = p.exitReason(st)
	}
	if p.killTimer != nil {
		p.killTimer.Stop()
	}
	if p.lifeTimer != nil {
		p.lifeTimer.Stop()
	}
	exitCode, signal, reason := p.exitCode, p.signal, p.reason
	p.mu.Unlock()
	p.closeStdin()

	s.mu.Lock()
	if p.kind != KindHealthCheck { // a check held no quota (health.go)
		s.running--
		s.perAgent[p.agent]--
		if s.perAgent[p.agent] == 0 {
			delete(s.perAgent, p.agent)
		}
	}
	s.mu.Unlock()
	s.recordOrWarn(audit.Record{Event: audit.EventExit, Agent: p.agent, Tool: p.tool, PID: p.pid, Executable: p.spec.Path,
		ExitCode: exitCode, Signal: signal, TerminationReason: reason, ServiceID: p.serviceID})
	close(p.done)
	if s.opts.OnStateChange != nil && p.kind != KindHealthCheck {
		s.opts.OnStateChange(p.agent, p.pid, false)
	}
	if p.cg != nil {
		// The tree is dead and its figures read: removing the (empty)
		// cgroup is housekeeping, off the caller's path: yield first, so
		// that the caller woken by done runs before it. Shutdown waits for
		// it (this goroutine is in s.wg).
		runtime.Gosched()
		p.cg.Remove()
	}
}

// Run starts spec and waits for it up to o.WaitTimeout (<= 0: 30 s; never
// longer than the process's lifetime); on expiry it terminates the tree
// (reason "timeout"). A cancelled ctx terminates the process too. With
// o.Progress set it reports progress (see Progress) from this goroutine.
// The result carries at most o.MaxResultBytes of each stream: its tail,
// with the offsets to read the rest (SPEC 7.4).
func (s *Supervisor) Run(ctx context.Context, agent string, spec *policy.Spec, so StartOptions, o RunOptions) (*RunResult, error) {
	p, err := s.launch(agent, spec, so, launchKind{kind: KindProcess})
	if err != nil {
		return nil, err
	}
	waitTimeout := o.WaitTimeout
	if waitTimeout <= 0 {
		waitTimeout = DefaultRunWait
	}
	if spec.Lifetime > 0 && waitTimeout > spec.Lifetime {
		waitTimeout = spec.Lifetime
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var tick <-chan time.Time
	var prog *progressor
	if o.Progress != nil {
		p.mu.Lock()
		begin := p.start
		p.mu.Unlock()
		prog = newProgressor(p.pid, p.out, p.errb, begin)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		tick = t.C
	}
	ctxDone := ctx.Done()
	for running := true; running; {
		select {
		case <-p.done:
			running = false
		case now := <-tick:
			if u, ok := prog.poll(now); ok {
				o.Progress(u)
			}
		case <-timer.C:
			p.requestStop(ReasonTimeout, s.limitGrace())
		case <-ctxDone:
			ctxDone = nil
			p.requestStop(ReasonTerminated, defaultTermTimeout)
		}
	}
	res := &RunResult{Status: p.status(s.now())}
	p.mu.Lock()
	res.DurationMs = p.end.Sub(p.start).Milliseconds()
	p.mu.Unlock()
	max := o.MaxResultBytes
	if max <= 0 {
		max = DefaultMaxResultBytes
	}
	if p.out != nil {
		var ro, re ringRead
		res.Stdout, ro = tailText(p.out, max)
		res.Stderr, re = tailText(p.errb, max)
		res.StdoutBytes, res.StderrBytes = ro.total, re.total
		res.Offset = StreamCounts{Stdout: ro.start, Stderr: re.start}
		res.NextOffset = StreamCounts{Stdout: ro.next, Stderr: re.next}
		res.DroppedBytes = StreamCounts{Stdout: ro.dropped, Stderr: re.dropped}
		res.Truncated = ro.start > 0 || re.start > 0
	}
	return res, nil
}

// tailText reads the last max bytes of r as UTF-8 text: a cut inside a
// rune moves the start past the rune's remaining bytes.
func tailText(r *ring, max int) (string, ringRead) {
	rd := r.read(0, 0, max)
	if rd.start > 0 {
		k := continuationHead(rd.data)
		rd.data, rd.start = rd.data[k:], rd.start+int64(k)
	}
	return strings.ToValidUTF8(string(rd.data), "\uFFFD"), rd
}
