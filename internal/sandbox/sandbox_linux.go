//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
)

const layer = "sandbox"

func appliedLayers() []string {
	return []string{LayerExecByFD, LayerProcessGroup, LayerPdeathsig, LayerBuiltEnv}
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
			p, err := start(r.spec, r.stdio)
			r.reply <- startResp{p, err}
		case <-l.quit:
			return
		}
	}
}

// Start launches spec with stdio from the launcher's thread.
func (l *Launcher) Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	r := startReq{spec: spec, stdio: stdio, reply: make(chan startResp, 1)}
	select {
	case l.reqs <- r:
	case <-l.quit:
		return nil, errcode.Fail(errcode.Internal, layer, "", "the launcher is closed (server shutting down)")
	}
	resp := <-r.reply
	return resp.p, resp.err
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
func Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	defaultOnce.Do(func() { defaultLauncher = NewLauncher() })
	return defaultLauncher.Start(spec, stdio)
}

func changed(format string, a ...any) *errcode.Error {
	return errcode.Fail(errcode.Internal, layer, "retry the launch; if it persists, find out who modifies the executable",
		"executable changed since the policy check: "+format, a...)
}

// start runs on the launcher thread.
func start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	if spec == nil || spec.Path == "" {
		return nil, errcode.Fail(errcode.Internal, layer, "", "no executable to launch")
	}
	fd, err := unix.Open(spec.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, changed("open %s: %v", spec.Path, err)
	}
	// Keep the fd clear of the low numbers Go's child side uses while it
	// arranges descriptors 0..3, so it survives until execve.
	if fd < 10 {
		nfd, derr := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 10)
		unix.Close(fd)
		if derr != nil {
			return nil, errcode.Fail(errcode.Internal, layer, "", "dup executable fd: %v", derr)
		}
		fd = nfd
	}
	defer unix.Close(fd)

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
	if spec.Dir != "" {
		// The child's chdir failure is reported like an exec failure: tell
		// them apart before forking.
		if fi, err := os.Stat(spec.Dir); err != nil || !fi.IsDir() {
			return nil, errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", spec.Dir)
		}
	}
	if err := closeOnExecAll(); err != nil {
		return nil, errcode.Fail(errcode.Internal, layer, "", "mark inherited descriptors close-on-exec: %v", err)
	}
	head := make([]byte, 2)
	n, _ := unix.Pread(fd, head, 0)
	script := n == 2 && head[0] == '#' && head[1] == '!'

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
	files := []*os.File{orNull(stdio.Stdin), orNull(stdio.Stdout), orNull(stdio.Stderr)}

	var path string
	if script {
		// The interpreter re-opens the script by the path the kernel hands
		// it, so the descriptor must survive execve: pass it as fd 3.
		exe := os.NewFile(uintptr(fd), spec.Path)
		files = append(files, exe)
		path = "/proc/self/fd/3"
		defer runtime.KeepAlive(exe)
	} else {
		// The fd is O_CLOEXEC: it exists in the forked child until execve
		// and is closed by it, so nothing leaks into the program.
		path = fmt.Sprintf("/proc/self/fd/%d", fd)
	}

	argv := spec.Argv
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	env := spec.Env
	if env == nil {
		env = []string{} // nil would mean "inherit the server's environment"
	}
	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Dir:   spec.Dir,
		Env:   env,
		Files: files,
		Sys: &syscall.SysProcAttr{
			Setpgid:   true,
			Pdeathsig: syscall.SIGKILL,
		},
	})
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, layer, "", "start %s: %v", spec.Path, err)
	}
	return &Process{Pid: proc.Pid, proc: proc, done: make(chan struct{})}, nil
}

// Process is a started child, the leader of its own process group.
type Process struct {
	Pid int

	proc     *os.Process // pidfd-backed
	mu       sync.Mutex  // orders group signals against the reap
	reaped   bool
	waitOnce sync.Once
	done     chan struct{}
	state    ExitState
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
// it ended. Any number of callers may Wait.
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

// closeOnExecAll sets FD_CLOEXEC on every descriptor above 2 of this
// process. Go opens everything close-on-exec, but descriptors the server
// inherited from whoever started it are not, and os.StartProcess would pass
// them on to every child.
func closeOnExecAll() error {
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return err
	}
	names, err := d.Readdirnames(-1)
	self := int(d.Fd())
	defer d.Close()
	if err != nil {
		return err
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 || fd == self {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // closed meanwhile, or already close-on-exec
		}
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFD, flags|unix.FD_CLOEXEC); err != nil && err != unix.EBADF {
			return err
		}
	}
	return nil
}
