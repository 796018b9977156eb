//go:build linux

package sandbox

// Performance machinery, not a security step: the zygote (a fork server,
// stage/zygote.go). One long-lived init stage per launcher, started on the
// launcher thread in the isolation's server-wide namespaces (for an
// unprivileged server, its own user namespace; never a mount namespace:
// every child unshares its own; never a PID, network, UTS or IPC
// namespace: a root server's children are cloned into their own, named in
// the zygote's environment), plans each eligible launch and starts a
// child that runs only that plan (sharing the zygote's memory until its
// exec where it can: stage/vmfork_linux.go), so that a launch no longer
// starts a Go runtime, nor copies one. The child is the server's child (CLONE_PARENT), reaped as a
// stage is; the launcher side of a Process (MsgReady, the gate, the
// StepError reports, Release, Abort, the cgroup) is the one a stage has.
// A launch the zygote does not plan (zygoteEligible, and the zygote's own
// stage.Zygotable) uses a stage, as before; TestZygoteLaunchIsolatedAsStage
// shows the two give the same observations.

import (
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

// zygoteByDefault: StageAuto uses the zygote.
const zygoteByDefault = true

// zygoteProc is a running zygote.
type zygoteProc struct {
	proc   *os.Process
	sock   *os.File // used under Launcher.zmu only
	served int      // launches it planned (a child, or a planning error), under Launcher.zmu: for tests
}

type zygoteResp struct {
	z   *zygoteProc
	err error
}

// useZygote reports whether this launcher starts eligible launches from
// its zygote.
func useZygote(o LauncherOptions) bool {
	if o.Plain || !stage.ZygoteSupported {
		return false
	}
	switch o.Stage {
	case StageZygote:
		return true
	case StageAuto:
		return zygoteByDefault
	}
	return false
}

// zygoteEligible is the eligibility rule: a launch goes to the zygote
// only when the zygote plans every one of its steps, that is, the
// isolation asks for no user namespace, no egress, no jail or composed
// root, no MAC profile, no tree executable beneath a private or masked
// directory, and the launch has no terminal (Landlock write rules and the
// tree executable scope are planned). A mount namespace is always
// planned; PID, network, UTS and IPC namespaces and the read-only
// filesystem only for a root server (whose zygote is in the host's user
// namespace: the child is cloned into them, made by the zygote while idle
// or by the clone3, stage/zygote_ns_linux.go).
// Everything else uses a Go init stage. The zygote checks the config again
// (stage.Zygotable, and its namespace steps against zygoteNS) and answers
// MsgFallback when in doubt.
func (l *Launcher) zygoteEligible(stdio Stdio, cfg []byte) bool {
	if !l.zygoteOn || stdio.Terminal {
		return false
	}
	l.zmu.Lock()
	broken := l.zbroken
	l.zmu.Unlock()
	if broken {
		return false
	}
	ns := l.iso.Namespaces
	if ns.User || l.iso.Network == config.NetworkProxy {
		return false
	}
	if (ns.PID || ns.Network || ns.UTS || ns.IPC || l.iso.ReadOnly) && os.Geteuid() != 0 {
		return false // not verified in an unprivileged server's user namespace
	}
	c, err := stage.Decode(cfg)
	return err == nil && stage.Zygotable(c)
}

// startZygote runs on the launcher thread (the zygote's Pdeathsig, and
// through CLONE_PARENT its children's, is that thread's): it starts the
// zygote and waits for its MsgZygote.
func (l *Launcher) startZygote() (*zygoteProc, error) {
	sys := l.iso.sysProcAttr()
	// Every child unshares a mount namespace of its own, and is cloned
	// into the per-launch namespaces the zygote's environment names.
	sys.Cloneflags &^= unix.CLONE_NEWNS | zygoteNS
	env := append(zygoteEnv[:len(zygoteEnv):len(zygoteEnv)], stage.ZygoteNSEnv+"="+strconv.Itoa(l.zygoteNS()),
		stage.ZygoteCapsEnv+"="+strconv.FormatUint(l.iso.KeepCaps, 10))
	if f := l.zygoteSeccomp(); f != nil {
		env = append(env, stage.ZygoteSeccompEnv+"="+hex.EncodeToString(f))
	}
	proc, ours, err := reexec("zygote", []string{"mcp-process-zygote", stage.ArgZygote}, env, sys)
	if err != nil {
		return nil, err
	}
	z := &zygoteProc{proc: proc, sock: ours}
	ours.SetReadDeadline(time.Now().Add(stageTimeout))
	var b [1]byte
	_, err = io.ReadFull(ours, b[:])
	ours.SetReadDeadline(time.Time{})
	if err != nil || b[0] != stage.MsgZygote {
		z.stop()
		return nil, errcode.Fail(errcode.Internal, layer, "", "the zygote did not start (%v)", err)
	}
	return z, nil
}

// zygoteEnv is the zygote's environment: one P; the collector on (it
// lives long and allocates a plan per launch); then stage.ZygoteNSEnv and
// stage.ZygoteCapsEnv.
var zygoteEnv = []string{"GOMAXPROCS=1"}

// zygoteSeccomp is the program the zygote installs on itself for its
// children to inherit (stage.ZygoteSeccompEnv): the isolation's when it is
// the baseline alone; nil under a profile (each launch installs its own,
// so that it runs under that one filter, as through a stage) or without
// seccomp.
func (l *Launcher) zygoteSeccomp() []byte {
	if l.iso.SeccompProfile != seccomp.Baseline || len(l.iso.Seccomp) == 0 || len(l.iso.Seccomp) > 8*stage.MaxZygoteSeccomp {
		return nil
	}
	return l.iso.Seccomp
}

// zygoteNS are the per-launch namespaces a zygote's children are cloned into.
const zygoteNS = unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC

// zygoteNS is the clone flags of the namespaces of l's isolation that the
// zygote's children get from their clone3 (a root server's only: an
// unprivileged server's launches with these are not eligible).
func (l *Launcher) zygoteNS() int {
	if os.Geteuid() != 0 {
		return 0
	}
	ns, f := l.iso.Namespaces, 0
	for _, n := range []struct {
		on   bool
		flag int
	}{{ns.PID, unix.CLONE_NEWPID}, {ns.Network, unix.CLONE_NEWNET}, {ns.UTS, unix.CLONE_NEWUTS}, {ns.IPC, unix.CLONE_NEWIPC}} {
		if n.on {
			f |= n.flag
		}
	}
	return f
}

// stop ends a zygote (EOF on its socket, then SIGKILL) and reaps it.
func (z *zygoteProc) stop() {
	z.sock.Close()
	z.proc.Kill()
	z.proc.Wait()
}

// zygote returns the running zygote, started on the launcher thread if
// there is none (or it died: fresh is the one that failed).
func (l *Launcher) zygote(failed *zygoteProc) (*zygoteProc, error) {
	l.zmu.Lock()
	if l.zyg != nil && l.zyg == failed {
		l.zyg = nil
		l.zmu.Unlock()
		failed.stop()
		l.zmu.Lock()
	}
	if z := l.zyg; z != nil {
		l.zmu.Unlock()
		return z, nil
	}
	l.zmu.Unlock()
	r := make(chan zygoteResp, 1)
	select {
	case l.zreqs <- r:
	case <-l.quit:
		return nil, errClosed()
	}
	resp := <-r
	return resp.z, resp.err
}

// serveZygote answers a request for the zygote on the launcher thread.
func (l *Launcher) serveZygote(r chan zygoteResp) {
	l.zmu.Lock()
	z := l.zyg
	l.zmu.Unlock()
	if z != nil {
		r <- zygoteResp{z: z}
		return
	}
	z, err := l.startZygote()
	if err == nil {
		l.zmu.Lock()
		l.zyg = z
		l.zmu.Unlock()
	}
	r <- zygoteResp{z, err}
}

// stopZygote ends the zygote (the launcher thread, at Close).
func (l *Launcher) stopZygote() {
	l.zmu.Lock()
	z := l.zyg
	l.zyg = nil
	l.zmu.Unlock()
	if z != nil {
		z.stop()
	}
}

// errFallback: the zygote does not plan this launch; use a stage.
var errFallback = errors.New("zygote: use a stage")

// ask sends a launch to z and returns the child's pid, or its planning
// StepError, or errFallback; any other error means z is gone.
func (z *zygoteProc) ask(cfg []byte, files []*os.File) (int, *stage.StepError, error) {
	z.sock.SetDeadline(time.Now().Add(stageTimeout))
	defer z.sock.SetDeadline(time.Time{})
	if err := sendConfig(z.sock, cfg, files); err != nil {
		return 0, nil, err
	}
	kind, serr, err := readReport(z.sock)
	switch {
	case err != nil:
		return 0, nil, err
	case kind == stage.MsgFallback:
		return 0, nil, errFallback
	case kind == stage.MsgError:
		return 0, serr, nil
	case kind != stage.MsgPid:
		return 0, nil, errcode.Fail(errcode.Internal, layer, "", "the zygote answered %q", kind)
	}
	var pid [4]byte
	if _, err := io.ReadFull(z.sock, pid[:]); err != nil {
		return 0, nil, err
	}
	return int(uint32(pid[0]) | uint32(pid[1])<<8 | uint32(pid[2])<<16 | uint32(pid[3])<<24), nil, nil
}

// startForked is start through the zygote: errFallback when the zygote
// does not plan the launch (the caller uses a stage). The child joins its
// launch's cgroup itself, after its mount steps (askZygote, stage
// planJoin); the launch record is written here meanwhile, on this
// goroutine, and the child is past its steps and the record is on disk
// before the caller may say "go".
func (l *Launcher) startForked(spec *policy.Spec, cfg []byte, files []*os.File, during func(*Process) error, record func(int) error, commit bool) (*Process, error) {
	ours, pid, group, serr, err := l.askZygote(cfg, files, spec.Limits)
	if ours == nil {
		var e *errcode.Error
		if errors.As(err, &e) { // the launch's cgroup, which the host refused
			return nil, err
		}
		return nil, errcode.Fail(errcode.Internal, layer, "", "the zygote failed for %s: %v", spec.Path, err)
	}
	p := &Process{Pid: pid, done: make(chan struct{}), path: spec.Path, dir: spec.Dir,
		limits: spec.Limits, sock: ours, launcher: l, keeps: keeperState{known: true}, forked: true, group: group}
	if err != nil || serr != nil {
		ours.Close()
		dropGroup(group) // no target of this launch runs: anything that joined it is killed
		if serr != nil {
			return nil, p.stepError(serr)
		}
		if err == errFallback {
			return nil, err
		}
		return nil, errcode.Fail(errcode.Internal, layer, "", "the zygote failed for %s: %v", spec.Path, err)
	}
	// Our child (CLONE_PARENT): nobody else reaps it, so the pid is its own
	// until we do.
	if p.proc, err = os.FindProcess(pid); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		ours.Close()
		dropGroup(group)
		return nil, errcode.Fail(errcode.Internal, layer, "", "the zygote's child %d: %v", pid, err)
	}
	// The record's fsync while the child joins its group and takes its
	// steps: both done before the caller may say "go".
	if record != nil {
		if err := record(pid); err != nil {
			p.Abort() // before its gate or at it: the target never ran
			return nil, err
		}
		if commit && during == nil {
			// StartCommitted: nothing is left to decide, "go" waits for
			// the child at its gate (a byte into an empty socket buffer
			// does not block). If the child is gone, the report says why.
			if _, err := ours.Write([]byte{stage.MsgGo}); err == nil {
				p.goSent = true
			}
		}
	}
	if err := l.awaitForked(p, during); err != nil {
		return nil, err
	}
	return p, nil
}

// askZygote sends the launch to the zygote, starting one if there is none
// and trying a new one once if it fails: our end of the launch's socket,
// the child's pid and the cgroup it joins (nil without cgroups), or its
// planning StepError, or errFallback (no zygote here, or it does not plan
// this launch), or the zygote's failure. A nil ours comes with the error
// that kept the launch from being sent.
func (l *Launcher) askZygote(cfg []byte, files []*os.File, limits config.ResourceLimits) (ours *os.File, pid int, group *cgroup.Group, serr *stage.StepError, err error) {
	var failed *zygoteProc
	for try := 0; ; try++ {
		// A fresh socket and a fresh group for each try: a child that a
		// failed zygote forked before it could answer holds the old socket
		// (it reads EOF at its gate when we close our end, exits and never
		// gets "go") and may have joined the old group, which goes with it.
		var theirs *os.File
		if ours, theirs, err = socketPair("launch"); err != nil {
			return nil, 0, nil, nil, err
		}
		z, zerr := l.zygote(failed)
		if zerr != nil {
			// No zygote here: this launch and the next use stages (as
			// contained; only slower).
			l.zmu.Lock()
			l.zbroken = true
			l.zmu.Unlock()
			theirs.Close()
			return ours, 0, nil, nil, errFallback
		}
		var procs []*os.File
		if group, procs, err = l.cgroups.forChild(limits); err != nil {
			theirs.Close()
			ours.Close()
			return nil, 0, nil, nil, err
		}
		if l.beforeAsk != nil && group != nil {
			l.beforeAsk(group)
		}
		if !stage.SetGroups(cfg, len(procs)) {
			closeFiles(procs)
			dropGroup(group)
			theirs.Close()
			ours.Close()
			return nil, 0, nil, nil, errcode.Fail(errcode.Internal, layer, "", "cannot send %d cgroup files with the launch", len(procs))
		}
		sent := append(files[:len(files):len(files)], theirs)
		l.zmu.Lock() // one launch at a time on the zygote's socket
		pid, serr, err = z.ask(cfg, append(sent, procs...))
		if err == nil {
			z.served++
		}
		l.zmu.Unlock()
		theirs.Close()
		closeFiles(procs)
		if err == nil || err == errFallback || try == 1 {
			return ours, pid, group, serr, err
		}
		ours.Close()
		dropGroup(group)
		failed = z // gone (or confused): a new zygote, once
	}
}

// awaitForked runs during and waits for the forked child's MsgReady (it
// joined its cgroup first: planJoin); on failure the child is gone and
// reaped and its group removed.
func (l *Launcher) awaitForked(p *Process, during func(*Process) error) error {
	ours := p.sock
	ours.SetDeadline(time.Now().Add(stageTimeout))
	if during != nil {
		if err := during(p); err != nil {
			p.Abort()
			return err
		}
	}
	kind, serr, err := readReport(ours)
	if err == nil && kind == stage.MsgReady {
		ours.SetDeadline(time.Time{})
		return nil
	}
	if serr != nil {
		p.closeGate()
		p.Wait() // the child exits 127 by itself after reporting
		dropGroup(p.group)
		return p.stepError(serr)
	}
	p.Abort()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		if p.goSent {
			// "go" was waiting at the gate: a child that reached it just as
			// the wait ended may have exec'd before the kill (its record is
			// on disk; the kill took it and its tree).
			return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not get ready within %s and was killed (its target may have started just before the kill)", p.path, stageTimeout)
		}
		return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s did not get ready within %s", p.path, stageTimeout)
	}
	return errcode.Fail(errcode.Internal, layer, "", "the init stage for %s ended before it was ready (%s)", p.path, p.state)
}

// zygoteServed is how many launches the running zygote planned, for tests.
func (l *Launcher) zygoteServed() int {
	l.zmu.Lock()
	defer l.zmu.Unlock()
	if l.zyg == nil {
		return 0
	}
	return l.zyg.served
}

// zygotePid is the zygote's pid (0: none running), for tests.
func (l *Launcher) zygotePid() int {
	l.zmu.Lock()
	defer l.zmu.Unlock()
	if l.zyg == nil {
		return 0
	}
	return l.zyg.proc.Pid
}
