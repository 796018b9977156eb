//go:build linux

package sandbox

// A started child's lifecycle: Release, Abort, signals and the reap.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

// exited waits until pid has exited, without reaping it.
func exited(pid int) {
	var info unix.Siginfo
	for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
	}
}

// Process is a started child, the leader of its own process group. Until
// Release it is the init stage, waiting at its gate.
type Process struct {
	Pid int

	proc     *os.Process // pidfd-backed
	mu       sync.Mutex  // orders group signals against the reap
	reaped   bool
	nsHold   int // the mount namespace's descriptor + 1 (nshold_linux.go); 0: none
	waitOnce sync.Once
	done     chan struct{}
	state    ExitState

	path, dir string
	limits    config.ResourceLimits
	launcher  *Launcher     // refills its pool once the launch is released or aborted
	group     *cgroup.Group // the launch's cgroup; nil without cgroups
	gateMu    sync.Mutex
	sock      *os.File // the stage's socket, ours; nil once released or aborted

	keeps      keeperState
	keeperDone chan struct{} // closed once a keeper watched since the stage was ready is reaped

	egress *EgressListeners // opened by the stage in the child's namespace (network.go); closed at the reap

	forked bool // forked by the zygote (zygote_linux.go), not a stage
	goSent bool // "go" sent at the record (Launcher.StartCommitted): Release does not send it again
}

// Egress returns the egress listeners the stage opened inside the child's
// network namespace (allowlist launches, SPEC 3.11), false for any other
// launch. They are closed once the process is reaped.
func (p *Process) Egress() (*EgressListeners, bool) { return p.egress, p.egress != nil }

// Cgroup is the launch's control group (nil without cgroups), for its
// figures (OOM kills, CPU time, members) and a kill of the whole tree.
// Abort, and a failed Release, remove it; after a successful Release the
// caller removes it once the process is reaped and its figures are read.
func (p *Process) Cgroup() *cgroup.Group { return p.group }

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
	var werr error
	if !p.goSent {
		_, werr = sock.Write([]byte{stage.MsgGo})
	}
	kind, serr, err := readReport(sock)
	if werr == nil && err == nil && kind == stage.MsgExec {
		_, serr, err = readReport(sock)
		if err == io.EOF {
			p.holdMountNS()
			return nil // closed by the exec: the target runs
		}
	}
	defer dropGroup(p.group) // the target never ran: its cgroup goes too
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

// Abort kills the child and reaps it, and kills and removes its cgroup.
// Before Release, the target never runs; after it, this kills the target's
// whole tree.
func (p *Process) Abort() {
	// Kill first: a stage at its gate that read EOF would exit by itself.
	// The child itself too: a zygote's child aborted before its setsid
	// has no group of its own yet.
	p.SignalGroup(syscall.SIGKILL)
	p.Signal(syscall.SIGKILL)
	if p.closeGate() {
		p.launcher.wantRefill()
	}
	p.Wait()
	dropGroup(p.group)
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
	p.dropMountNS()
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
