//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

const layer = "sandbox"

func appliedLayers() []string {
	return []string{LayerInitStage, LayerExecByFD, LayerProcessGroup, LayerPdeathsig, LayerBuiltEnv, LayerNoCoreDumps}
}

// Launcher starts children from one dedicated goroutine locked to its OS
// thread for the launcher's whole life, because Pdeathsig fires when the
// creating thread (not process) exits (go.dev/issue/27505). Close ends that
// thread, which SIGKILLs every child it started that is still alive.
type Launcher struct {
	reqs      chan startReq
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

type startReq struct {
	spec  *policy.Spec
	stdio Stdio
	reply chan startResp
}

type startResp struct {
	p   *Process
	err error
}

// NewLauncher starts a launcher; its owner must Close it.
func NewLauncher() *Launcher {
	l := &Launcher{reqs: make(chan startReq), quit: make(chan struct{}), done: make(chan struct{})}
	go l.loop()
	return l
}

func (l *Launcher) loop() {
	// Never unlocked: when this goroutine returns, the runtime ends the
	// thread, and only then do the children's Pdeathsig fire.
	runtime.LockOSThread()
	if unix.Gettid() == unix.Getpid() {
		// The main thread never exits (a locked goroutine ending there
		// wedges it), so children would outlive Close. Hand over to a
		// goroutine that, while this one holds the main thread, must
		// run on another thread.
		started := make(chan struct{})
		go l.lockedLoop(started)
		<-started
		runtime.UnlockOSThread()
		return
	}
	l.serve()
}

func (l *Launcher) lockedLoop(started chan<- struct{}) {
	runtime.LockOSThread()
	close(started)
	l.serve()
}

func (l *Launcher) serve() {
	defer close(l.done)
	for {
		select {
		case r := <-l.reqs:
			p, err := spawn(r.spec, r.stdio)
			r.reply <- startResp{p, err}
		case <-l.quit:
			return
		}
	}
}

// Start launches spec with stdio: it forks the init stage from the
// launcher's thread and returns once the stage has applied every step, with
// the target not yet running. The caller must then call Release (the target
// runs) or Abort (it never does); in between it can write the launch record
// and move Pid into the launch's cgroup. An error means nothing runs and
// nothing is left to clean up.
func (l *Launcher) Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	r := startReq{spec: spec, stdio: stdio, reply: make(chan startResp, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return nil, errcode.Fail(errcode.Internal, layer, "", "the launcher is closed (server shutting down)")
	}
	resp := <-r.reply
	if resp.err != nil {
		return nil, resp.err
	}
	// The handshake runs here, not on the launcher thread, so that one
	// slow stage does not hold up the other launches.
	if err := resp.p.handshake(); err != nil {
		return nil, err
	}
	return resp.p, nil
}

// Close stops the launcher thread (children still alive get SIGKILL).
func (l *Launcher) Close() {
	l.closeOnce.Do(func() { close(l.quit) })
	<-l.done
}

var (
	defaultOnce     sync.Once
	defaultLauncher *Launcher
)

// Start launches spec from the package's process-wide launcher, which lives
// as long as the program (use a Launcher to own one with a shorter life).
// As with Launcher.Start, the caller must Release or Abort the process.
func Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	defaultOnce.Do(func() { defaultLauncher = NewLauncher() })
	return defaultLauncher.Start(spec, stdio)
}

func changed(format string, a ...any) *errcode.Error {
	return errcode.Fail(errcode.Internal, layer, "retry the launch; if it persists, find out who modifies the executable",
		"executable changed since the policy check: "+format, a...)
}

// noFileDefault is the soft RLIMIT_NOFILE a child gets when its launch sets
// no maxFileDescriptors: the usual default (the stage's Go runtime raised
// its own soft limit to the hard one, which the target must not inherit).
const noFileDefault = 1024

// stageTimeout bounds each wait for the stage (ready, exec): a stage that
// hangs is killed and the launch fails instead of blocking the caller.
const stageTimeout = 30 * time.Second

// stageRlimits are the limits the stage sets for l.
func stageRlimits(l config.ResourceLimits) []stage.Rlimit {
	rl := make([]stage.Rlimit, 0, 3)
	if l.MaxFileDescriptors > 0 {
		n := uint64(l.MaxFileDescriptors)
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: n, Max: n})
	} else {
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: noFileDefault, Max: stage.KeepMax})
	}
	if l.MaxCpuTime > 0 {
		// SIGXCPU at the soft limit, SIGKILL one second later.
		n := uint64(l.MaxCpuTime)
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_CPU, Cur: n, Max: n + 1})
	}
	// Core dumps off: a dump could write the child's secrets to disk.
	rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0})
	return rl
}

// stageConfig encodes what the stage needs to prepare and exec spec.
func stageConfig(spec *policy.Spec, script bool) ([]byte, error) {
	argv := spec.Argv
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	c := stage.Config{Rlimits: stageRlimits(spec.Limits), Dir: spec.Dir, Argv: argv, Env: spec.Env}
	if script {
		c.Flags |= stage.FlagScript
	}
	b := c.Encode()
	if len(b) > stage.MaxPayload {
		return nil, errcode.Fail(errcode.InvalidInput, layer, "pass fewer or shorter arguments or variables",
			"arguments and environment are too large (%d bytes)", len(b))
	}
	return b, nil
}

// spawn runs on the launcher thread: it opens and checks the executable and
// forks the init stage, handing it the config pipe, the executable and the
// report pipe.
func spawn(spec *policy.Spec, stdio Stdio) (*Process, error) {
	if spec == nil || spec.Path == "" {
		return nil, errcode.Fail(errcode.Internal, layer, "", "no executable to launch")
	}
	fd, err := unix.Open(spec.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, changed("open %s: %v", spec.Path, err)
	}
	exe := os.NewFile(uintptr(fd), spec.Path)
	defer exe.Close()

	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, changed("fstat %s: %v", spec.Path, err)
	}
	if uint64(st.Dev) != spec.Dev || st.Ino != spec.Ino {
		return nil, changed("%s is no longer the file that was checked", spec.Path)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, changed("%s is not a regular file", spec.Path)
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		return nil, changed("%s gained a setuid/setgid bit", spec.Path)
	}
	head := make([]byte, 2)
	n, _ := unix.Pread(fd, head, 0)
	cfg, err := stageConfig(spec, n == 2 && head[0] == '#' && head[1] == '!')
	if err != nil {
		return nil, err
	}
	if spec.Dir != "" {
		// Tell a missing directory apart before forking.
		if fi, err := os.Stat(spec.Dir); err != nil || !fi.IsDir() {
			return nil, errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", spec.Dir)
		}
	}

	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, layer, "", "open %s: %v", os.DevNull, err)
	}
	defer devnull.Close()
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return devnull
		}
		return f
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, layer, "", "config pipe: %v", err)
	}
	defer cfgR.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		cfgW.Close()
		return nil, errcode.Fail(errcode.Internal, layer, "", "report pipe: %v", err)
	}
	defer repW.Close()
	// Index = the stage's descriptor number (stage.ConfigFD, ExeFD, ReportFD).
	files := []*os.File{orNull(stdio.Stdin), orNull(stdio.Stdout), orNull(stdio.Stderr), cfgR, exe, repW}
	proc, err := os.StartProcess("/proc/self/exe", []string{"mcp-process-init", stage.Arg}, &os.ProcAttr{
		Env:   stageEnv,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		cfgW.Close()
		repR.Close()
		return nil, errcode.Fail(errcode.Internal, layer, "", "start the init stage for %s: %v", spec.Path, err)
	}
	return &Process{Pid: proc.Pid, proc: proc, done: make(chan struct{}), path: spec.Path, dir: spec.Dir,
		limits: spec.Limits, cfg: cfg, cfgW: cfgW, repR: repR}, nil
}

// Process is a started child, the leader of its own process group. Until
// Release it is the init stage, waiting at its gate.
type Process struct {
	Pid int

	proc     *os.Process // pidfd-backed
	mu       sync.Mutex  // orders group signals against the reap
	reaped   bool
	waitOnce sync.Once
	done     chan struct{}
	state    ExitState

	path, dir string
	limits    config.ResourceLimits
	cfg       []byte // the stage's config, until the handshake sent it
	gateMu    sync.Mutex
	cfgW      *os.File // config pipe, ours: the config, then "go"; nil once released or aborted
	repR      *os.File // report pipe, ours
}

// handshake sends the config and waits until every step before the gate
// succeeded. On failure the stage is gone and reaped.
func (p *Process) handshake() error {
	p.cfgW.SetWriteDeadline(time.Now().Add(stageTimeout))
	p.repR.SetReadDeadline(time.Now().Add(stageTimeout))
	_, werr := p.cfgW.Write(p.cfg)
	p.cfg = nil
	kind, serr, err := readReport(p.repR)
	if werr == nil && err == nil && kind == stage.MsgReady {
		return nil
	}
	if serr != nil {
		p.closeGate()
		p.Wait() // the stage exits 127 by itself after reporting
		return p.stepError(serr)
	}
	p.Abort()
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(werr, os.ErrDeadlineExceeded):
		return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not get ready within %s", p.path, stageTimeout)
	}
	return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
}

// readReport reads one message of the report pipe: MsgReady, MsgExec or
// MsgError (with its StepError); io.EOF once the stage closed it.
func readReport(r io.Reader) (byte, *stage.StepError, error) {
	var kind [1]byte
	if _, err := io.ReadFull(r, kind[:]); err != nil {
		return 0, nil, err
	}
	if kind[0] != stage.MsgError {
		return kind[0], nil, nil
	}
	var size [2]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return 0, nil, err
	}
	body := make([]byte, stage.ErrorSize(size))
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	se, err := stage.DecodeError(body)
	if err != nil {
		return 0, nil, err
	}
	return stage.MsgError, se, nil
}

// Release lets the target run: the stage execs it. It returns once the
// exec happened; on error (the exec failed, or the stage was gone) the
// target never ran and the process is reaped. Only the first call of
// Release or Abort acts.
func (p *Process) Release() error {
	p.gateMu.Lock()
	defer p.gateMu.Unlock()
	if p.cfgW == nil {
		return errcode.Fail(errcode.Internal, layer, "", "process %d was already released or aborted", p.Pid)
	}
	cfgW, repR := p.cfgW, p.repR
	p.cfgW, p.repR = nil, nil
	defer repR.Close()
	_, werr := cfgW.Write([]byte{stage.MsgGo})
	cfgW.Close()
	repR.SetReadDeadline(time.Now().Add(stageTimeout))
	kind, serr, err := readReport(repR)
	if werr == nil && err == nil && kind == stage.MsgExec {
		kind, serr, err = readReport(repR)
		if err == io.EOF {
			return nil // closed by the exec: the target runs
		}
	}
	if serr != nil {
		p.Wait() // the stage exits 127 by itself after reporting
		return p.stepError(serr)
	}
	p.kill()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not exec it within %s", p.path, stageTimeout)
	}
	return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before the exec (%s)", p.path, p.state)
}

// Abort kills the child and reaps it. Before Release, the target never
// runs; after it, this kills the target's whole process group.
func (p *Process) Abort() {
	p.closeGate()
	p.kill()
}

// closeGate closes our ends of the pipes: a stage still at its gate reads
// EOF there and exits without exec.
func (p *Process) closeGate() {
	p.gateMu.Lock()
	defer p.gateMu.Unlock()
	if p.cfgW != nil {
		p.cfgW.Close()
		p.repR.Close()
		p.cfgW, p.repR = nil, nil
	}
}

func (p *Process) kill() {
	p.SignalGroup(syscall.SIGKILL)
	p.Wait()
}

// stepError turns a failed step of the stage into the tool's error.
func (p *Process) stepError(se *stage.StepError) *errcode.Error {
	errno := syscall.Errno(se.Errno)
	what := fmt.Sprintf("init stage step %q: %s", se.Step, se.Detail)
	if errno != 0 {
		what += ": " + errno.Error()
	}
	layerFault := errno == unix.EPERM || errno == unix.ENOSYS || errno == unix.EINVAL
	switch se.Step {
	case stage.StepRlimit:
		key, value := "resource limit", uint64(0)
		switch se.Resource {
		case unix.RLIMIT_NOFILE:
			key, value = "maxFileDescriptors", uint64(p.limits.MaxFileDescriptors)
		case unix.RLIMIT_CPU:
			key, value = "maxCpuTime", uint64(p.limits.MaxCpuTime)
		case unix.RLIMIT_CORE:
			key = "core dump limit"
		}
		if !layerFault {
			return errcode.Fail(errcode.Internal, "rlimits", "", "%s: %s", key, what)
		}
		return errcode.Fail(errcode.LayerUnavailable, "rlimits",
			fmt.Sprintf("lower %s to at most %d, or raise the server's hard limit (ulimit -H, systemd Limit*=) before starting it", key, se.Max),
			"%s %d cannot be enforced: it is above the server's hard limit %d (%s)", key, value, se.Max, what)
	case stage.StepChdir:
		if errno == unix.ENOENT || errno == unix.ENOTDIR {
			return errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", p.dir)
		}
		return errcode.Fail(errcode.Internal, layer, "", "%s", what)
	case stage.StepExec:
		remedy := ""
		if errno == unix.ENOENT {
			remedy = "for a script, check that its interpreter exists"
		}
		return errcode.Fail(errcode.Internal, layer, remedy, "exec %s: %s", p.path, what)
	}
	if layerFault {
		return errcode.Fail(errcode.LayerUnavailable, se.Step, "", "%s", what)
	}
	return errcode.Fail(errcode.Internal, se.Step, "", "%s", what)
}

// Signal signals the child itself (through its pidfd: never a recycled pid).
func (p *Process) Signal(sig syscall.Signal) error {
	return p.proc.Signal(sig)
}

// SignalGroup signals the child's whole process group. Once the child has
// been reaped it does nothing and returns os.ErrProcessDone: the group id is
// only safe to use while the leader (alive or zombie) pins it.
func (p *Process) SignalGroup(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return os.ErrProcessDone
	}
	if err := unix.Kill(-p.Pid, sig); err != nil && err != unix.ESRCH {
		return err
	}
	return nil
}

// Done is closed once the child has been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the child to exit, kills what is left of its process group
// (while the zombie leader still pins the group id), reaps it and returns how
// it ended. Any number of callers may Wait. Before Release, only Abort ends
// the child.
func (p *Process) Wait() ExitState {
	p.waitOnce.Do(p.reap)
	<-p.done
	return p.state
}

func (p *Process) reap() {
	defer close(p.done)
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, p.Pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	unix.Kill(-p.Pid, unix.SIGKILL) // leftovers of the tree; ESRCH when none
	ps, err := p.proc.Wait()
	p.reaped = true
	if err != nil {
		code := -1
		p.state = ExitState{ExitCode: &code}
		return
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		p.state = ExitState{Signal: ws.Signal()}
	default:
		code := ws.ExitStatus()
		p.state = ExitState{ExitCode: &code}
	}
}

// SignalName returns "SIGKILL" etc. ("" for 0).
func SignalName(sig syscall.Signal) string {
	if sig == 0 {
		return ""
	}
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return fmt.Sprintf("SIG%d", int(sig))
}

// stageEnv is the init stage's own environment (the target gets the
// Spec's), never the server's: it keeps the stage's Go runtime small (one
// P, so fewer threads to start; no GC for a process that lives a moment).
var stageEnv = []string{"GOMAXPROCS=1", "GOGC=off"}
