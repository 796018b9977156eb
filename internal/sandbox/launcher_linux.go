//go:build linux

package sandbox

// The launcher: its locked thread (Pdeathsig), starting a stage (cloned into
// the isolation's namespaces), Close.

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

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
	plain     bool // stage.ArgPlain stages, no pool (LauncherOptions.Plain)
	cgroups   *launchCgroups
	iso       *Isolation

	mu   sync.Mutex
	idle []*stageProc // warm stages, oldest first

	// The zygote (zygote_linux.go): started on this thread at the first
	// eligible launch.
	zygoteOn bool
	zreqs    chan chan zygoteResp
	zmu      sync.Mutex // guards zyg and zbroken, and orders launches on its socket
	zyg      *zygoteProc
	zbroken  bool // the zygote could not be started: stages only

	// beforeAsk, tests only, sees a forked launch's group once its
	// cgroup.procs files are open, before the zygote is asked.
	beforeAsk func(*cgroup.Group)
}

// NewLauncher starts a launcher configured by o (the zero value: two warm
// stages, no cgroups, no isolation beyond what every child gets); its owner
// must Close it.
func NewLauncher(o LauncherOptions) *Launcher {
	n := o.PoolSize
	switch {
	case n == 0:
		n = defaultPoolSize
	case n < 0 || o.Plain:
		n = 0
	}
	iso := o.Isolation
	l := &Launcher{reqs: make(chan chan coldResp), refill: make(chan struct{}, 1), later: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), poolSize: n, plain: o.Plain,
		cgroups: newLaunchCgroups(o.Cgroups), iso: &iso, zygoteOn: useZygote(o), zreqs: make(chan chan zygoteResp)}
	if !o.Plain {
		l.cgroups.startPool(l.quit, o.GroupLimits) // fresh groups for launches without a warm stage (cgroups_pool.go)
	}
	l.run()
	return l
}

// run starts the launcher thread (and the pool's first fill).
func (l *Launcher) run() {
	l.wantRefill()
	go l.loop()
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
	defer l.stopZygote()
	delay := time.NewTimer(refillDelay)
	delay.Stop()
	defer delay.Stop()
	armed := false
	for {
		select {
		case r := <-l.reqs:
			s, err := l.startStage()
			r <- coldResp{s, err}
		case r := <-l.zreqs:
			l.serveZygote(r)
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

func errClosed() error {
	return errcode.Fail(errcode.Internal, layer, "", "the launcher is closed (server shutting down)")
}

// socketPair is a stream socket pair for a process the launcher starts
// (name says which, in errors and descriptor names): ours non-blocking (in
// the poller, with deadlines), theirs for the process.
func socketPair(name string) (ours, theirs *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "%s socket: %v", name, err)
	}
	// A new socket's file status flags are 0: O_NONBLOCK alone, one fcntl
	// (unix.SetNonblock reads the flags first).
	if _, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETFL, unix.O_NONBLOCK); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "%s socket: %v", name, err)
	}
	return os.NewFile(uintptr(fds[0]), name), os.NewFile(uintptr(fds[1]), name), nil
}

// startStage runs on the launcher thread: it starts an init stage, which
// idles until it receives a launch on its socket.
func (l *Launcher) startStage() (*stageProc, error) {
	arg := stage.Arg
	if l.plain {
		arg = stage.ArgPlain
	}
	argv := []string{"mcp-process-init", arg}
	if l.iso.Network == config.NetworkProxy {
		argv = append(argv, stage.ArgEgress) // listeners and capture while idle
	}
	proc, ours, err := reexec("init-stage", argv, stageEnv, l.iso.sysProcAttr())
	if err != nil {
		return nil, err
	}
	return &stageProc{proc: proc, sock: ours}, nil
}

// reexec starts /proc/self/exe with argv and env in sys's namespaces (what
// becomes an init stage or the zygote, as name says): /dev/null for stdio,
// its end of a new socket pair as descriptor 3 (stage.SocketFD); ours is the
// launcher's end. It runs on the launcher thread (the child's Pdeathsig).
func reexec(name string, argv, env []string, sys *syscall.SysProcAttr) (*os.Process, *os.File, error) {
	ours, theirs, err := socketPair(name)
	if err != nil {
		return nil, nil, err
	}
	defer theirs.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		ours.Close()
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "open %s: %v", os.DevNull, err)
	}
	defer devnull.Close()
	if sys.Cloneflags&unix.CLONE_NEWUSER != 0 && os.Geteuid() != 0 {
		// The server is non-dumpable (package selfprotect), and so is the
		// new child until its exec: its /proc/PID/uid_map then belongs to
		// root, and an unprivileged server could not write the mapping.
		// Dumpable again for the clone only (see dumpableWhile).
		defer dumpableWhile()()
	}
	proc, err := os.StartProcess("/proc/self/exe", argv, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{devnull, devnull, devnull, theirs}, // index = the descriptor number
		Sys:   sys,
	})
	if err != nil {
		ours.Close()
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "start the %s: %v", strings.ReplaceAll(name, "-", " "), err)
	}
	return proc, ours, nil
}

// Close stops the launcher thread: idle stages are killed and reaped, and
// children still alive get SIGKILL. The pool of fresh cgroups is removed.
func (l *Launcher) Close() {
	l.closeOnce.Do(func() { close(l.quit) })
	<-l.done
	l.cgroups.stopPool() // its groups removed
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
