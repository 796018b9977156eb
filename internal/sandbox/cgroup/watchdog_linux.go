//go:build linux

package cgroup

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The watchdog kills what the server started when the server dies, by any
// means: SIGKILL, a crash, the OOM killer. A cleanup that runs on exit does
// not run then, and Pdeathsig reaches only a direct child (a grandchild
// that called setsid or double-forked has another parent), so the tree is
// held by cgroups and the watchdog is what acts on them.
//
// It is this binary re-executed with WatchdogArg (dispatched by this
// package's init, before main: see init below) by StartWatchdog, after
// Detect and before any launch. It
//   - leads its own session and process group (a signal to the server's
//     group, a terminal's ^C, does not reach it), is in no launch group,
//     has the server's credentials (root for a root server), is
//     non-dumpable (PR_SET_DUMPABLE 0: no ptrace or /proc access by
//     processes of its uid without CAP_SYS_PTRACE) and asks not to be
//     chosen by the OOM killer (oom_score_adj -1000, where allowed);
//   - ignores SIGINT, SIGTERM, SIGHUP and SIGPIPE;
//   - holds the read end of a pipe whose only write end is the server's
//     (close-on-exec: no child of the server inherits it);
//   - never writes to stdout (the MCP protocol's: it gets /dev/null) and
//     writes to stderr only on errors.
//
// When the pipe reads EOF — the server exited, or closed it in Close — it
// kills every process in each of the server's parent groups and every
// group below them (killTree: cgroup.kill on v2; the v1 freezer, or a
// SIGKILL loop over cgroup.procs until empty), removes the groups, and
// exits. The server's own Close does the same first in a clean shutdown;
// whatever it already removed is simply gone for the watchdog.
//
// Not covered: SIGKILL of the watchdog itself, by a process with the right
// to signal it (the server's uid or root): its children then outlive a
// later death of the server until the next start sweeps them (Detect).
// Children must therefore not run as the server's uid with the right to
// signal it (a root server's children run as another uid; a non-root
// server's are kept from signalling it by Landlock's signal scope).

// WatchdogArg is the hidden argument that makes this binary the watchdog:
// argv is [name, WatchdogArg, parent group directories...].
const WatchdogArg = "__mcp_process_watchdog"

// watchdogFD is the descriptor of the pipe's read end in the watchdog.
const watchdogFD = 3

func init() {
	if len(os.Args) >= 2 && os.Args[1] == WatchdogArg {
		os.Exit(runWatchdog(os.Args[2:]))
	}
}

// watchdog is the server's side: the process and the write end, replaced
// when the watchdog dies while the server lives.
type watchdog struct {
	parents []string
	done    chan struct{} // closed once the keeper goroutine ends

	mu       sync.Mutex
	proc     *os.Process
	w        *os.File
	stopping bool
	restarts int
}

// maxWatchdogRestarts bounds how often a watchdog that died while the
// server lives is replaced (something keeps killing it: give up).
const maxWatchdogRestarts = 10

// StartWatchdog starts the watchdog for this Manager's parent groups (see
// above). It does nothing where no hierarchy is used ("none"). Call it
// once, before the first launch; Close stops it. A watchdog that dies
// while the server lives (the OOM killer, a stray signal) is replaced at
// once, up to 10 times.
func (m *Manager) StartWatchdog() error {
	if len(m.hs) == 0 || m.wd != nil {
		return nil
	}
	wd := &watchdog{parents: m.Parents(), done: make(chan struct{})}
	if err := wd.spawn(); err != nil {
		return err
	}
	m.wd = wd
	go wd.keep() // owned by the Manager: ends in stopWatchdog (Close)
	return nil
}

// spawn starts a watchdog process with a new pipe (wd.mu held or not yet
// shared).
func (wd *watchdog) spawn() error {
	r, w, err := os.Pipe() // both close-on-exec
	if err != nil {
		return internal(err, "cannot create the watchdog's pipe")
	}
	defer r.Close()
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return internal(err, "cannot open %s", os.DevNull)
	}
	defer devnull.Close()
	args := append([]string{"mcp-process-watchdog", WatchdogArg}, wd.parents...)
	proc, err := os.StartProcess("/proc/self/exe", args, &os.ProcAttr{
		Env: []string{},
		// Index = descriptor: stdin and stdout /dev/null, errors to the
		// server's stderr, the pipe's read end as watchdogFD.
		Files: []*os.File{devnull, devnull, os.Stderr, r},
		Sys:   &syscall.SysProcAttr{Setsid: true},
	})
	if err != nil {
		w.Close()
		return internal(err, "cannot start the watchdog")
	}
	if wd.w != nil {
		wd.w.Close() // the previous watchdog's pipe
	}
	wd.proc, wd.w = proc, w
	return nil
}

// keep reaps the watchdog and replaces it while the server is not
// stopping it.
func (wd *watchdog) keep() {
	defer close(wd.done)
	for {
		wd.mu.Lock()
		proc := wd.proc
		wd.mu.Unlock()
		proc.Wait()
		wd.mu.Lock()
		if wd.stopping || wd.restarts >= maxWatchdogRestarts {
			wd.mu.Unlock()
			return
		}
		wd.restarts++
		err := wd.spawn()
		wd.mu.Unlock()
		if err != nil {
			fmt.Fprintln(os.Stderr, "mcp-process: the watchdog died and cannot be restarted:", err)
			return
		}
	}
}

// WatchdogPid is the watchdog's pid (0 when none runs).
func (m *Manager) WatchdogPid() int {
	if m.wd == nil {
		return 0
	}
	m.wd.mu.Lock()
	defer m.wd.mu.Unlock()
	return m.wd.proc.Pid
}

// watchdogStopWait bounds how long Close waits for the watchdog to exit.
const watchdogStopWait = 5 * time.Second

// stopWatchdog closes the pipe and waits for the watchdog to exit (it
// kills it after watchdogStopWait).
func (m *Manager) stopWatchdog() error {
	wd := m.wd
	if wd == nil {
		return nil
	}
	m.wd = nil
	wd.mu.Lock()
	wd.stopping = true
	wd.w.Close()
	proc := wd.proc
	wd.mu.Unlock()
	select {
	case <-wd.done:
		return nil
	case <-time.After(watchdogStopWait):
		proc.Kill()
		<-wd.done
		return internal(nil, "the watchdog did not exit within %s of the server's shutdown (killed)", watchdogStopWait)
	}
}

// runWatchdog is the watchdog process (see above); it returns its exit
// status.
func runWatchdog(dirs []string) int {
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	_ = os.WriteFile("/proc/self/oom_score_adj", []byte("-1000"), 0)
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "mcp-process watchdog:", err)
		return 2
	}
	var st unix.Stat_t
	if err := unix.Fstat(watchdogFD, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return fail(fmt.Errorf("descriptor %d is not the server's pipe (started by hand?)", watchdogFD))
	}
	for _, d := range dirs {
		// A group already gone (a server that shut down at once) is fine.
		if err := checkCgroupDir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			return fail(err)
		}
	}
	buf := make([]byte, 64)
	for {
		n, err := unix.Read(watchdogFD, buf)
		if err == unix.EINTR || (err == nil && n > 0) {
			continue
		}
		break // EOF: the server is gone (or closed it); an error: likewise
	}
	status := 0
	for _, d := range dirs {
		if err := sysOps.killTree(d); err != nil {
			fmt.Fprintln(os.Stderr, "mcp-process watchdog: after the server's exit:", err)
			status = 1
		}
	}
	return status
}

// checkCgroupDir accepts an absolute, clean path to a directory on a
// cgroup or cgroup2 file system (the watchdog removes nothing else).
func checkCgroupDir(d string) error {
	if !filepath.IsAbs(d) || filepath.Clean(d) != d {
		return fmt.Errorf("%q is not an absolute clean path", d)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(d, &fs); err != nil {
		return fmt.Errorf("%s: %w", d, err)
	}
	if fs.Type != unix.CGROUP2_SUPER_MAGIC && fs.Type != unix.CGROUP_SUPER_MAGIC {
		return errors.New(d + " is not on a cgroup file system")
	}
	return nil
}
