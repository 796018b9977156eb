//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
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
	return []string{LayerInitStage, LayerExecByFD, LayerProcessGroup, LayerPdeathsig, LayerBuiltEnv, LayerNoCoreDumps,
		LayerNoNewPrivs, LayerCapabilities}
}

// Launcher starts children from one dedicated goroutine locked to its OS
// thread for the launcher's whole life, because Pdeathsig fires when the
// creating thread (not process) exits (go.dev/issue/27505). Close ends that
// thread, which SIGKILLs every child it started that is still alive.
//
// The same thread keeps a pool of warm init stages: stages started ahead of
// time that idle, blocked on their socket, until a launch hands them its
// config. A launch takes the oldest one (or starts one cold when there is
// none), and the thread starts a replacement only after that launch was
// released or aborted, one stage at a time, so that a refill is never on a
// launch's latency path: while a warm stage is left, the refill waits
// refillDelay more, past the new target's exec and first moments (starting
// a stage, and on cgroup v1 moving it into its group, take CPU time and
// cgroup locks that the target's own exec, forks and exit would wait for).
type Launcher struct {
	reqs      chan chan coldResp // a stage for a launch that found the pool empty
	refill    chan struct{}      // cap 1: top the pool up
	later     chan struct{}      // cap 1: top the pool up after refillDelay
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	poolSize  int
	prepare   func(pid int) (any, error)
	release   func(token any)
	iso       *Isolation

	mu   sync.Mutex
	idle []*stageProc // warm stages, oldest first
}

// stageProc is a started init stage that has not received a launch yet.
type stageProc struct {
	proc  *os.Process // pidfd-backed
	sock  *os.File    // our end of its socketpair (non-blocking, in the poller)
	token any         // from LauncherOptions.Prepare; nil when not prepared
	keeps keeperState
}

// keeperState is what the launcher knows of a stage's keeper (stage
// keeper_linux.go: a child of ours that holds the stage's address space so
// that the exec of the target does not tear it down). The stage reports
// it in its first message (MsgKeeper).
type keeperState struct {
	known  bool        // the stage's MsgKeeper was read
	keeper *os.Process // its keeper (nil: none)
}

// reap reaps the stage's keeper once the stage is reaped (and so no longer
// holds the memory: the keeper exits by itself; killing it only hastens
// that).
func (k *keeperState) reap() {
	if k.keeper != nil {
		k.keeper.Kill()
		k.keeper.Wait()
		k.keeper = nil
	}
}

// find looks for the keeper of a stage that died before it reported one:
// a child of ours in the stage's process group other than the stage. The
// stage must have exited and not be reaped yet, so that its pid, which is
// the group's id, cannot have been reused.
func (k *keeperState) find(stagePid int) {
	if k.known {
		return
	}
	k.known = true
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == stagePid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[1] == strconv.Itoa(me) && f[2] == strconv.Itoa(stagePid) {
			if proc, err := os.FindProcess(pid); err == nil {
				k.keeper = proc
			}
			return
		}
	}
}

// exited waits until pid has exited, without reaping it.
func exited(pid int) {
	var info unix.Siginfo
	for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
	}
}

// read reads the stage's first message, MsgKeeper, from sock.
func (k *keeperState) read(sock *os.File) error {
	var b [5]byte
	if _, err := io.ReadFull(sock, b[:]); err != nil {
		return err
	}
	if b[0] != stage.MsgKeeper {
		return fmt.Errorf("the init stage's first message is %q, want %q", b[0], stage.MsgKeeper)
	}
	k.known = true
	if pid := int(uint32(b[1]) | uint32(b[2])<<8 | uint32(b[3])<<16 | uint32(b[4])<<24); pid > 0 {
		// Our child (CLONE_PARENT), not reaped: the pid is its own.
		proc, err := os.FindProcess(pid)
		if err != nil {
			return err
		}
		k.keeper = proc
	}
	return nil
}

type coldResp struct {
	s   *stageProc
	err error
}

// defaultPoolSize is how many warm stages a launcher keeps.
const defaultPoolSize = 2

// refillDelay is how long after a launch the pool is topped up while it
// still holds a warm stage (an empty pool is refilled at once).
const refillDelay = 25 * time.Millisecond

// NewLauncher starts a launcher; its owner must Close it.
func NewLauncher() *Launcher { return NewLauncherWith(LauncherOptions{}) }

// NewLauncherWith starts a launcher configured by o; its owner must Close it.
func NewLauncherWith(o LauncherOptions) *Launcher {
	n := o.PoolSize
	switch {
	case n == 0:
		n = defaultPoolSize
	case n < 0:
		n = 0
	}
	return startLauncher(n, o.Prepare, o.Release, o.Isolation)
}

// newLauncher starts a launcher that keeps poolSize warm stages (0: every
// launch starts its stage cold).
func newLauncher(poolSize int) *Launcher { return startLauncher(poolSize, nil, nil, Isolation{}) }

func startLauncher(poolSize int, prepare func(int) (any, error), release func(any), iso Isolation) *Launcher {
	l := &Launcher{reqs: make(chan chan coldResp), refill: make(chan struct{}, 1), later: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), poolSize: poolSize, prepare: prepare, release: release,
		iso: &iso}
	l.wantRefill()
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
	defer l.drain()
	delay := time.NewTimer(refillDelay)
	delay.Stop()
	defer delay.Stop()
	armed := false
	for {
		select {
		case r := <-l.reqs:
			s, err := l.startStage()
			r <- coldResp{s, err}
		case <-l.refill:
			l.topUp()
		case <-l.later:
			if !armed {
				delay.Reset(refillDelay)
				armed = true
			}
		case <-delay.C:
			armed = false
			l.topUp()
		case <-l.quit:
			return
		}
	}
}

// topUp starts stages until the pool is full, one at a time, and serves a
// launch waiting for a cold stage before each.
func (l *Launcher) topUp() {
	for {
		select {
		case r := <-l.reqs:
			s, err := l.startStage()
			r <- coldResp{s, err}
			continue
		case <-l.quit:
			return
		default:
		}
		l.mu.Lock()
		full := len(l.idle) >= l.poolSize
		l.mu.Unlock()
		if full {
			return
		}
		s, err := l.startStage()
		if err != nil {
			return // the next launch starts cold, and asks again
		}
		s.sock.SetDeadline(time.Now().Add(stageTimeout))
		err = s.keeps.read(s.sock)
		s.sock.SetDeadline(time.Time{})
		if err != nil {
			l.discard(s)
			return
		}
		if l.prepare != nil {
			if s.token, err = l.prepare(s.proc.Pid); err != nil {
				s.token = nil
				l.discard(s)
				return
			}
		}
		l.mu.Lock()
		l.idle = append(l.idle, s)
		l.mu.Unlock()
	}
}

// drain ends the pool (the launcher thread adds no stage after it): every
// idle stage is killed and reaped.
func (l *Launcher) drain() {
	l.mu.Lock()
	idle := l.idle
	l.idle = nil
	l.mu.Unlock()
	for _, s := range idle {
		l.discard(s)
	}
}

// discard kills an idle stage, reaps it and its keeper and gives back its
// token.
func (l *Launcher) discard(s *stageProc) {
	s.sock.Close()
	s.proc.Kill()
	if !s.keeps.known {
		exited(s.proc.Pid)
		s.keeps.find(s.proc.Pid)
	}
	s.proc.Wait()
	s.keeps.reap()
	if s.token != nil && l.release != nil {
		l.release(s.token)
	}
}

// wantRefill asks the launcher thread to top the pool up.
func (l *Launcher) wantRefill() {
	if l == nil || l.poolSize == 0 {
		return
	}
	select {
	case l.refill <- struct{}{}:
	default: // already asked
	}
}

// launched asks for a refill once a launch is through (released or
// aborted): at once if the pool is empty, else after refillDelay, off the
// new target's first moments.
func (l *Launcher) launched() {
	if l == nil || l.poolSize == 0 {
		return
	}
	l.mu.Lock()
	left := len(l.idle)
	l.mu.Unlock()
	if left == 0 {
		l.wantRefill()
		return
	}
	select {
	case l.later <- struct{}{}:
	default: // already asked
	}
}

// take returns the oldest warm stage that is still alive (pooled), or a
// new one from the launcher thread.
func (l *Launcher) take() (s *stageProc, pooled bool, err error) {
	for {
		l.mu.Lock()
		if len(l.idle) > 0 {
			s = l.idle[0]
			l.idle = slices.Delete(l.idle, 0, 1)
		}
		l.mu.Unlock()
		if s == nil {
			break
		}
		if s.idleAlive() {
			return s, true, nil
		}
		l.discard(s)
		s = nil
		l.wantRefill()
	}
	r := make(chan coldResp, 1)
	select {
	case l.reqs <- r:
	case <-l.quit:
		return nil, false, errClosed()
	}
	resp := <-r
	return resp.s, false, resp.err
}

// idleAlive reports whether an idle stage can still take a launch: its
// socket shows neither data nor a hang-up (the stage never writes before it
// has a config, and its end closes when it dies).
func (s *stageProc) idleAlive() bool {
	rc, err := s.sock.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	rc.Control(func(fd uintptr) {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(pfd, 0)
		ok = err == nil && n == 0
	})
	return ok
}

func errClosed() error {
	return errcode.Fail(errcode.Internal, layer, "", "the launcher is closed (server shutting down)")
}

// startStage runs on the launcher thread: it starts an init stage, which
// idles until it receives a launch on its socket.
func (l *Launcher) startStage() (*stageProc, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, layer, "", "init stage socket: %v", err)
	}
	theirs := os.NewFile(uintptr(fds[1]), "init-stage")
	defer theirs.Close()
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, errcode.Fail(errcode.Internal, layer, "", "init stage socket: %v", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "init-stage") // non-blocking: in the poller, with deadlines
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		ours.Close()
		return nil, errcode.Fail(errcode.Internal, layer, "", "open %s: %v", os.DevNull, err)
	}
	defer devnull.Close()
	// Index = the stage's descriptor number (stage.SocketFD is 3).
	sys := l.iso.sysProcAttr()
	if sys.Cloneflags&unix.CLONE_NEWUSER != 0 && os.Geteuid() != 0 {
		// The server is non-dumpable (package selfprotect), and so is the
		// new child until its exec: its /proc/PID/uid_map then belongs to
		// root, and an unprivileged server could not write the mapping.
		// Dumpable again for the clone only (see dumpableWhile).
		defer dumpableWhile()()
	}
	argv := []string{"mcp-process-init", stage.Arg}
	if l.iso.Network == config.NetworkProxy {
		argv = append(argv, stage.ArgEgress) // listeners and capture while idle
	}
	proc, err := os.StartProcess("/proc/self/exe", argv, &os.ProcAttr{
		Env:   stageEnv,
		Files: []*os.File{devnull, devnull, devnull, theirs},
		Sys:   sys,
	})
	if err != nil {
		ours.Close()
		return nil, errcode.Fail(errcode.Internal, layer, "", "start the init stage: %v", err)
	}
	return &stageProc{proc: proc, sock: ours}, nil
}

// Start launches spec with stdio: it hands the launch to a warm init stage
// (or starts one) and returns once the stage has applied every step, with
// the target not yet running. The caller must then call Release (the target
// runs) or Abort (it never does); in between it can write the launch record
// and move Pid into the launch's cgroup. An error means nothing runs and
// nothing is left to clean up.
func (l *Launcher) Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	return l.StartWith(spec, stdio, nil)
}

// StartWith is Start, calling during (when not nil) once the launch has
// been sent to a stage and while the stage applies its steps, so that the
// caller's own preparation (the launch's cgroup limits) runs alongside
// instead of after. during gets the process with Pid set and owns Token
// from then on (Start gives it back to nobody); an error from during
// aborts the launch and is returned as is. during is called again, for
// another stage, when the stage turns out to have died before it received
// the launch: it must then undo what it prepared for the previous one.
func (l *Launcher) StartWith(spec *policy.Spec, stdio Stdio, during func(*Process) error) (*Process, error) {
	select {
	case <-l.quit:
		return nil, errClosed()
	default:
	}
	if l.iso.err != nil {
		return nil, l.iso.err
	}
	exe, cfg, err := openChecked(spec, l.iso)
	if err != nil {
		return nil, err
	}
	defer exe.Close()
	if stdio.Terminal && l.iso.Seccomp == nil {
		// Fail closed: only the seccomp baseline keeps a child from
		// typing into its terminal (TIOCSTI).
		return nil, errcode.Fail(errcode.LayerUnavailable, "pty", "start without pty: this host has no seccomp filters",
			"a pseudo-terminal needs the seccomp baseline, which refuses TIOCSTI and TIOCLINUX")
	}
	if stdio.Terminal && !stage.AddFlags(cfg, stage.FlagTerminal) {
		return nil, errcode.Fail(errcode.Internal, layer, "", "cannot mark the launch's config for a terminal")
	}
	var devnull *os.File
	if stdio.Stdin == nil || stdio.Stdout == nil || stdio.Stderr == nil {
		if devnull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
			return nil, errcode.Fail(errcode.Internal, layer, "", "open %s: %v", os.DevNull, err)
		}
		defer devnull.Close()
	}
	orNull := func(f *os.File) *os.File {
		if f == nil {
			return devnull
		}
		return f
	}
	// Index = stage.SentExe, SentStdin, SentStdout, SentStderr.
	files := []*os.File{exe, orNull(stdio.Stdin), orNull(stdio.Stdout), orNull(stdio.Stderr)}
	coldRetry := true // one more try when a new stage dies before it receives the launch
	for {
		s, pooled, err := l.take()
		if err != nil {
			return nil, err
		}
		p := &Process{Pid: s.proc.Pid, proc: s.proc, done: make(chan struct{}), path: spec.Path, dir: spec.Dir,
			limits: spec.Limits, sock: s.sock, launcher: l, token: s.token, keeps: s.keeps}
		var tokenTaken bool
		err = p.handshake(cfg, files, func() error {
			if during == nil {
				return nil
			}
			tokenTaken = true
			return during(p)
		})
		if err != nil && s.token != nil && l.release != nil && !tokenTaken {
			l.release(s.token) // the stage is gone and reaped: nobody takes its token
		}
		if err == errStale && (pooled || coldRetry) {
			// A warm stage that died while idle, or (once) a new stage
			// that died before it received anything: take another.
			coldRetry = coldRetry && pooled
			l.wantRefill()
			continue
		}
		if err != nil {
			l.wantRefill()
			if err == errStale {
				err = errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
			}
			return nil, err
		}
		return p, nil
	}
}

// Close stops the launcher thread: idle stages are killed and reaped, and
// children still alive get SIGKILL.
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
func stageConfig(spec *policy.Spec, script bool, iso *Isolation) ([]byte, error) {
	argv := spec.Argv
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	c := stage.Config{Rlimits: stageRlimits(spec.Limits), Dir: spec.Dir, Argv: argv, Env: spec.Env}
	if script {
		c.Flags |= stage.FlagScript
	}
	iso.apply(&c)
	if spec.Home != "" && iso.Root == "" {
		// The agent's HOME stays writable (SPEC 7.1a), and in sight when
		// it lies beneath a private directory (only that agent's own).
		if iso.Landlock || iso.ReadOnly {
			c.Writable = append(slices.Clip(c.Writable), spec.Home)
		}
		if c.Flags&stage.FlagPrivate != 0 {
			c.Keep = append(slices.Clip(c.Keep), spec.Home)
		}
	}
	b := c.Encode()
	if len(b) > stage.MaxPayload {
		return nil, errcode.Fail(errcode.InvalidInput, layer, "pass fewer or shorter arguments or variables",
			"arguments and environment are too large (%d bytes)", len(b))
	}
	return b, nil
}

// openChecked opens the executable, checks it is the file the policy
// checked, and encodes the stage's config for spec.
func openChecked(spec *policy.Spec, iso *Isolation) (*os.File, []byte, error) {
	if spec == nil || spec.Path == "" {
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "no executable to launch")
	}
	fd, err := unix.Open(spec.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, changed("open %s: %v", spec.Path, err)
	}
	exe := os.NewFile(uintptr(fd), spec.Path)
	fail := func(err error) (*os.File, []byte, error) {
		exe.Close()
		return nil, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(changed("fstat %s: %v", spec.Path, err))
	}
	if uint64(st.Dev) != spec.Dev || st.Ino != spec.Ino {
		return fail(changed("%s is no longer the file that was checked", spec.Path))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(changed("%s is not a regular file", spec.Path))
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		return fail(changed("%s gained a setuid/setgid bit", spec.Path))
	}
	// The kernel reads the "#!" line again at exec: it must be the line the
	// policy checked (a file rewritten in place keeps its inode).
	head := make([]byte, 256) // BINPRM_BUF_SIZE
	n, _ := unix.Pread(fd, head, 0)
	head = head[:max(n, 0)]
	script := bytes.HasPrefix(head, []byte("#!"))
	if script {
		line, _, _ := bytes.Cut(head, []byte("\n"))
		if !spec.Script || string(line) != spec.Shebang {
			return fail(changed("%s: its #! line is not the one that was checked", spec.Path))
		}
	} else if spec.Script {
		return fail(changed("%s is no longer a #! script", spec.Path))
	}
	cfg, err := stageConfig(spec, script, iso)
	if err != nil {
		return fail(err)
	}
	if spec.Dir != "" {
		// Tell a missing directory apart before using a stage.
		// With a jail, Dir is a path inside it.
		if fi, err := os.Stat(filepath.Join(iso.Root, spec.Dir)); err != nil || !fi.IsDir() {
			return fail(errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", spec.Dir))
		}
	}
	return exe, cfg, nil
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
	launcher  *Launcher // refills its pool once the launch is released or aborted
	token     any       // the prepared stage's token (LauncherOptions.Prepare), or nil
	gateMu    sync.Mutex
	sock      *os.File // the stage's socket, ours; nil once released or aborted

	keeps      keeperState
	keeperDone chan struct{} // closed once a keeper watched since the stage was ready is reaped

	egress *EgressListeners // opened by the stage in the child's namespace (network.go); closed at the reap
}

// Egress returns the egress listeners the stage opened inside the child's
// network namespace (allowlist launches, SPEC 3.11), false for any other
// launch. They are closed once the process is reaped.
func (p *Process) Egress() (*EgressListeners, bool) { return p.egress, p.egress != nil }

// watchKeeper reaps the stage's keeper as soon as it exits (at the exec of
// the target, or when the stage dies), so that it is not left a zombie for
// the target's life. reap kills it if it is still there (the target can
// stop it: it is in the target's process group) and waits for it.
func (p *Process) watchKeeper() {
	k := p.keeps.keeper
	if k == nil {
		return
	}
	p.keeperDone = make(chan struct{})
	go func() {
		defer close(p.keeperDone)
		k.Wait()
	}()
}

// Token is what LauncherOptions.Prepare returned for this process's warm
// stage (nil for a cold stage). The caller owns it from Start on.
func (p *Process) Token() any { return p.token }

// errStale is a stage that was gone before it received the launch.
var errStale = errors.New("init stage gone")

// handshake sends the config and the descriptors, runs during while the
// stage applies its steps, and waits until every step before the gate
// succeeded. On failure the stage is gone and reaped; errStale means it was
// gone before it received anything.
func (p *Process) handshake(cfg []byte, files []*os.File, during func() error) error {
	p.sock.SetDeadline(time.Now().Add(stageTimeout))
	werr := sendConfig(p.sock, cfg, files)
	if errors.Is(werr, unix.EPIPE) || errors.Is(werr, unix.ECONNRESET) {
		p.closeGate()
		p.kill()
		return errStale
	}
	if werr == nil {
		if derr := during(); derr != nil {
			p.Abort()
			return derr
		}
	}
	var kind byte
	var serr *stage.StepError
	var err error
	if !p.keeps.known { // a stage started for this launch: its first message
		err = p.keeps.read(p.sock)
	}
	if err == nil && werr == nil && p.launcher.iso.Network == config.NetworkProxy {
		kind, serr, p.egress, err = readNet(p.sock)
	}
	if err == nil && (kind == 0 || kind == stage.MsgNet) {
		kind, serr, err = readReport(p.sock)
	}
	if werr == nil && err == nil && kind == stage.MsgReady {
		p.sock.SetDeadline(time.Time{})
		p.watchKeeper()
		return nil
	}
	if serr != nil {
		p.closeGate()
		p.Wait() // the stage exits 127 by itself after reporting
		return p.stepError(serr)
	}
	p.Abort()
	if werr == nil && errors.Is(err, unix.ECONNRESET) {
		// The stage's socket closed with the launch still unread in it:
		// the stage died before it received the launch (a warm stage
		// killed while it was being taken). Nothing ran.
		return errStale
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(werr, os.ErrDeadlineExceeded):
		return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not get ready within %s", p.path, stageTimeout)
	}
	return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
}

// sendConfig writes cfg to the stage's socket, its first bytes carrying
// files (SCM_RIGHTS).
func sendConfig(sock *os.File, cfg []byte, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	rc, err := sock.SyscallConn()
	if err != nil {
		return err
	}
	oob := unix.UnixRights(fds...)
	var n int
	var serr error
	err = rc.Write(func(fd uintptr) bool {
		n, serr = unix.SendmsgN(int(fd), cfg, oob, nil, unix.MSG_NOSIGNAL)
		return serr != unix.EAGAIN
	})
	runtime.KeepAlive(files)
	if err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	if n < len(cfg) {
		_, err = sock.Write(cfg[n:])
	}
	return err
}

// readReport reads one report of the stage: MsgReady, MsgExec or
// MsgError (with its StepError); io.EOF once its socket closed.
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
	if p.sock == nil {
		return errcode.Fail(errcode.Internal, layer, "", "process %d was already released or aborted", p.Pid)
	}
	sock := p.sock
	p.sock = nil
	defer p.launcher.launched() // the launch is through: the pool may be topped up
	defer sock.Close()
	sock.SetDeadline(time.Now().Add(stageTimeout))
	_, werr := sock.Write([]byte{stage.MsgGo})
	kind, serr, err := readReport(sock)
	if werr == nil && err == nil && kind == stage.MsgExec {
		_, serr, err = readReport(sock)
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
	// Kill first: a stage at its gate that read EOF would exit by itself.
	p.SignalGroup(syscall.SIGKILL)
	if p.closeGate() {
		p.launcher.wantRefill()
	}
	p.Wait()
}

// closeGate closes our end of the socket: a stage still at its gate reads
// EOF there and exits without exec. It reports whether it did.
func (p *Process) closeGate() bool {
	p.gateMu.Lock()
	defer p.gateMu.Unlock()
	if p.sock == nil {
		return false
	}
	p.sock.Close()
	p.sock = nil
	return true
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
	exited(p.Pid) // a zombie still: its pid pins the group id
	p.mu.Lock()
	defer p.mu.Unlock()
	unix.Kill(-p.Pid, unix.SIGKILL) // leftovers of the tree; ESRCH when none
	p.keeps.find(p.Pid)             // a stage that died before it reported its keeper
	ps, err := p.proc.Wait()
	p.reaped = true
	if p.egress != nil {
		p.egress.Close()
	}
	if p.keeperDone != nil {
		p.keeps.keeper.Kill() // gone since the exec unless stopped (the group kill above reached it too)
		<-p.keeperDone
	} else {
		p.keeps.reap()
	}
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

// dumpableMu serialises dumpableWhile.
var dumpableMu sync.Mutex

// dumpableWhile makes the process dumpable until the returned func is
// called, which makes it non-dumpable again, for the clone of a stage into
// a user namespace by an unprivileged server (the parent writes the child's
// uid_map, which a non-dumpable mm gives to root). During that window a
// process of the server's uid could ptrace the server, but no child can:
// every child is in a Landlock domain (scope), which forbids ptrace of a
// process outside it; where the host has no Landlock, doctor names the gap.
func dumpableWhile() func() {
	dumpableMu.Lock()
	was, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if was != 0 {
		dumpableMu.Unlock()
		return func() {}
	}
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0)
	return func() {
		_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		dumpableMu.Unlock()
	}
}
