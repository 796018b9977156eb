//go:build linux

package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// CPUPeriodMicros is the CPU quota period (100 ms) of every group.
const CPUPeriodMicros = 100000

// Group is one launch's control group, in every hierarchy the Manager uses.
// Its methods are safe for concurrent use.
type Group struct {
	m    *Manager
	name string
	dirs []string // one per Manager.hs
	// Role directories ("" when the role is unavailable).
	v2, mem, pids, cpu, acct, frz string
	track                         string // whose cgroup.procs lists the group's processes

	mu      sync.Mutex
	removed bool
	oom     *oomHold // v1: the memory limit kills the group as one (oomhold_linux.go)
	// The control files read when its tree ends, open since New (off a
	// launch's path when the group is pooled) so that the exit's reads
	// open nothing; -1: not open (read by path). Under mu; closed by Remove.
	eventsFD int // v2 cgroup.events (Populated)
	oomFD    int // memory.oom_control (v1) or memory.events (v2) (OOMKills)
}

// cpuQuota converts a share of one core to a quota per 100 ms period.
func cpuQuota(percent float64) int64 {
	q := int64(percent / 100 * CPUPeriodMicros)
	if q < 1000 {
		q = 1000
	}
	return q
}

// New creates the launch group name (one path element, unique among this
// Manager's live groups) in every hierarchy used and writes its limits
// before anything can join. A limit that is asked for but cannot be set is a
// LAYER_UNAVAILABLE error naming it; nothing is left behind on error.
func (m *Manager) New(name string, l Limits) (*Group, error) {
	if err := validName(name); err != nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer, "use a plain directory name", "cgroup name %q: %v", name, err)
	}
	for _, c := range []struct {
		asked bool
		h     *hierarchy
		key   string
		what  string
	}{
		{l.MemoryBytes > 0, m.mem, "memory", "memory limit (maxMemoryMB)"},
		{l.Pids > 0, m.pids, "pids", "process limit (maxProcesses)"},
		{l.CPUPercent > 0, m.cpu, "cpu", "CPU limit (maxCpuPercent)"},
	} {
		if c.asked && c.h == nil {
			return nil, unavailable(nil, "the %s cannot be enforced on this host: %s", c.what, m.support.Reasons[c.key])
		}
	}
	if len(m.hs) == 0 {
		return nil, unavailable(nil, "no usable cgroup hierarchy: %s", m.support.Reasons["kill"])
	}
	if m.isClosed() {
		return nil, internal(nil, "the cgroup manager is closed")
	}

	g := &Group{m: m, name: name, dirs: make([]string, 0, len(m.hs)), eventsFD: -1, oomFD: -1}
	for _, h := range m.hs {
		dir := h.parent + "/" + name
		err := m.ops.mkdir(dir)
		if errors.Is(err, unix.EEXIST) && m.clearStale(dir) == nil {
			err = m.ops.mkdir(dir) // a leftover of a dead server that had our pid
		}
		if err != nil {
			_ = g.Remove()
			return nil, unavailable(err, "cannot create the launch cgroup")
		}
		g.dirs = append(g.dirs, dir)
	}
	role := func(h *hierarchy) string {
		if h == nil {
			return ""
		}
		return g.dirs[h.idx]
	}
	g.v2, g.mem, g.pids, g.cpu, g.acct, g.frz = role(m.v2), role(m.mem), role(m.pids), role(m.cpu), role(m.acct), role(m.frz)
	switch {
	case g.v2 != "":
		g.track = g.v2
	case g.frz != "":
		g.track = g.frz
	default:
		g.track = g.dirs[0]
	}

	if err := g.setLimits(l); err != nil {
		_ = g.Remove()
		return nil, err
	}
	g.openCtls()
	m.mu.Lock()
	closed := m.closed
	if !closed {
		m.groups[g] = struct{}{}
	}
	m.mu.Unlock()
	if closed { // Close ran meanwhile and would not see this group
		_ = g.Remove()
		return nil, internal(nil, "the cgroup manager is closed")
	}
	return g, nil
}

// SetPids changes the group's pids.max (e.g. to tighten it once a
// multi-threaded init stage has exec'd the target). n <= 0 means no limit.
func (g *Group) SetPids(n int64) error {
	if err := g.gone(); err != nil {
		return err
	}
	if g.pids == "" {
		return unavailable(nil, "the process limit (maxProcesses) cannot be enforced on this host: %s", g.m.support.Reasons["pids"])
	}
	v := "max"
	if n > 0 {
		v = strconv.FormatInt(n, 10)
	}
	if err := g.m.ops.write(g.pids+"/pids.max", v); err != nil {
		return unavailable(err, "cannot set the process limit (maxProcesses)")
	}
	return nil
}

// SetLimits writes l's non-zero limits to a group that processes may
// already be in (a prepared group a warm init stage waits in: the limits are
// written before the stage lets its target exec).
func (g *Group) SetLimits(l Limits) error {
	if err := g.gone(); err != nil {
		return err
	}
	return g.setLimits(l)
}

func (g *Group) setLimits(l Limits) error {
	w := g.m.ops.write
	// optional tolerates a control file this kernel does not have.
	optional := func(err error) error {
		if isNotExist(err) {
			return nil
		}
		return err
	}
	if l.MemoryBytes > 0 {
		n := strconv.FormatInt(l.MemoryBytes, 10)
		var err error
		if g.m.v2Limits {
			err = w(g.mem+"/memory.max", n)
			if err == nil {
				err = optional(w(g.mem+"/memory.swap.max", "0"))
			}
			if err == nil {
				err = optional(w(g.mem+"/memory.oom.group", "1"))
			}
		} else {
			err = w(g.mem+"/memory.limit_in_bytes", n)
			if err == nil && !g.m.noMemsw.Load() {
				// Absent without swap accounting: asked once per manager.
				if err = w(g.mem+"/memory.memsw.limit_in_bytes", n); isNotExist(err) {
					g.m.noMemsw.Store(true)
					err = nil
				}
			}
			if err == nil {
				err = g.holdOOM() // the whole group goes at the limit, as with memory.oom.group
			}
		}
		if err != nil {
			return unavailable(err, "cannot set the memory limit (maxMemoryMB)")
		}
	}
	if l.Pids > 0 {
		if err := w(g.pids+"/pids.max", strconv.FormatInt(l.Pids, 10)); err != nil {
			return unavailable(err, "cannot set the process limit (maxProcesses)")
		}
	}
	if l.CPUPercent > 0 {
		q := strconv.FormatInt(cpuQuota(l.CPUPercent), 10)
		var err error
		if g.m.v2Limits {
			err = w(g.cpu+"/cpu.max", q+" "+strconv.Itoa(CPUPeriodMicros))
		} else {
			// A new group's cpu.cfs_period_us is the kernel's default
			// period (default_cfs_period(), 100 ms), which is
			// CPUPeriodMicros, and nothing here changes it: the quota is
			// the one write needed.
			err = w(g.cpu+"/cpu.cfs_quota_us", q)
		}
		if err != nil {
			return unavailable(err, "cannot set the CPU limit (maxCpuPercent)")
		}
	}
	return nil
}

// Name is the group's name under the server's parent group.
func (g *Group) Name() string { return g.name }

// Paths are the group's directories, one per hierarchy.
func (g *Group) Paths() []string { return append([]string(nil), g.dirs...) }

func (g *Group) gone() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed {
		return internal(nil, "cgroup %s was removed", g.name)
	}
	return nil
}

// Join moves process pid (with all its threads) into the group in every
// hierarchy. Joining is idempotent, and a migration is not refused by
// pids.max, so a multi-threaded init stage may join a tight group. A process
// placed at clone time with FD (CLONE_INTO_CGROUP) is only in the v2 group:
// on hybrid and v1 hosts it must still Join for the v1 hierarchies.
func (g *Group) Join(pid int) error {
	if err := g.gone(); err != nil {
		return err
	}
	p := strconv.Itoa(pid)
	for _, d := range g.dirs {
		if err := g.m.ops.write(d+"/cgroup.procs", p); err != nil {
			return internal(err, "cannot move pid %d into its cgroup", pid)
		}
	}
	return nil
}

// ProcsFiles opens the group's cgroup.procs file in every hierarchy for
// writing (close-on-exec), for a process that joins the group itself by
// writing "0" to each (the zygote's child): the kernel checks a move
// against the credentials and cgroup namespace of the file's opener, so
// the joiner is allowed exactly what Join by this process would be. The
// caller closes them.
func (g *Group) ProcsFiles() ([]*os.File, error) {
	if err := g.gone(); err != nil {
		return nil, err
	}
	files := make([]*os.File, 0, len(g.dirs))
	for _, d := range g.dirs {
		// Opened blocking and wrapped as is: os.OpenFile would register the
		// (pollable) file with the runtime's poller and switch it to
		// non-blocking and back when it is sent, six system calls of no
		// use for a file that is only passed on.
		path := d + "/cgroup.procs"
		fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		for err == unix.EINTR {
			fd, err = unix.Open(path, unix.O_WRONLY|unix.O_CLOEXEC, 0)
		}
		var f *os.File
		if err == nil {
			f = os.NewFile(uintptr(fd), path)
		} else {
			err = &fs.PathError{Op: "open", Path: path, Err: err}
		}
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return nil, internal(err, "cannot open cgroup %s to join it", g.name)
		}
		files = append(files, f)
	}
	return files, nil
}

// JoinV1 is Join for the v1 hierarchies only: for a process already placed
// in the v2 group at clone time (FD + CLONE_INTO_CGROUP), it saves the v2
// migration. On a pure v2 host it does nothing.
func (g *Group) JoinV1(pid int) error {
	if err := g.gone(); err != nil {
		return err
	}
	p := strconv.Itoa(pid)
	for _, d := range g.dirs {
		if d == g.v2 {
			continue
		}
		if err := g.m.ops.write(d+"/cgroup.procs", p); err != nil {
			return internal(err, "cannot move pid %d into its cgroup", pid)
		}
	}
	return nil
}

// FD opens the v2 group directory O_PATH|O_DIRECTORY|O_CLOEXEC for
// SysProcAttr.UseCgroupFD/CgroupFD. The caller closes it.
func (g *Group) FD() (int, error) {
	if g.v2 == "" {
		return -1, unavailable(nil, "no cgroup v2 group to start a process in (version %s)", g.m.support.Version)
	}
	fd, err := unix.Open(g.v2, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, internal(&fs.PathError{Op: "open", Path: g.v2, Err: err}, "cannot open the launch cgroup")
	}
	return fd, nil
}

// Procs lists the pids in the group.
func (g *Group) Procs() ([]int, error) {
	b, err := readCtl(g.track + "/cgroup.procs")
	if err != nil {
		return nil, internal(err, "cannot list the cgroup's processes")
	}
	return parsePids(b), nil
}

// openCtls opens the control files read at the end of the group's tree
// (eventsFD, oomFD). One that cannot be opened is read by path instead.
func (g *Group) openCtls() {
	open := func(path string) int {
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1
		}
		return fd
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.v2 != "" {
		g.eventsFD = open(g.v2 + "/cgroup.events")
	}
	if g.mem != "" {
		g.oomFD = open(g.mem + g.oomFile())
	}
}

// oomFile is the control file that counts the group's OOM kills.
func (g *Group) oomFile() string {
	if g.m.v2Limits {
		return "/memory.events"
	}
	return "/memory.oom_control"
}

// readOpenCtl reads path through fd when it is open (eventsFD, oomFD: read
// under mu, so that Remove cannot close it meanwhile), else by path.
func (g *Group) readOpenCtl(fd *int, path string) ([]byte, error) {
	g.mu.Lock()
	if *fd >= 0 {
		defer g.mu.Unlock()
		return readCtlFD(*fd, path)
	}
	g.mu.Unlock()
	return readCtl(path)
}

// closeCtls (mu held) closes the open control files.
func (g *Group) closeCtls() {
	for _, fd := range []*int{&g.eventsFD, &g.oomFD} {
		if *fd >= 0 {
			unix.Close(*fd)
			*fd = -1
		}
	}
}

// Populated says whether any process is in the group.
func (g *Group) Populated() (bool, error) {
	if g.v2 != "" {
		b, err := g.readOpenCtl(&g.eventsFD, g.v2+"/cgroup.events")
		if err != nil {
			return false, internal(err, "cannot read the cgroup's events")
		}
		if n, ok := keyedValue(b, "populated"); ok {
			return n != 0, nil
		}
	}
	pids, err := g.Procs()
	return len(pids) > 0, err
}

// killWait bounds how long Kill waits for the group to empty.
const killWait = 2 * time.Second

// Kill SIGKILLs every process of the group at once and waits (up to 2 s)
// until the group is empty: cgroup.kill on v2 and hybrid hosts; on v1 the
// freezer (freeze, SIGKILL every member, thaw), so no member can fork
// meanwhile; without either, SIGKILL over cgroup.procs until it is empty.
func (g *Group) Kill() error {
	if err := g.gone(); err != nil {
		return err
	}
	w := g.m.ops.write
	switch g.m.kill {
	case killV2:
		if err := w(g.v2+"/cgroup.kill", "1"); err != nil {
			return internal(err, "cannot kill the cgroup")
		}
	case killV2Freeze:
		if err := w(g.v2+"/cgroup.freeze", "1"); err != nil {
			return internal(err, "cannot freeze the cgroup")
		}
		g.waitFrozen(func() bool {
			b, err := readCtl(g.v2 + "/cgroup.events")
			n, ok := keyedValue(b, "frozen")
			return err != nil || (ok && n == 1)
		})
		g.signalAll()
		_ = w(g.v2+"/cgroup.freeze", "0")
	case killV1Freeze:
		if err := w(g.frz+"/freezer.state", "FROZEN"); err != nil {
			return internal(err, "cannot freeze the cgroup")
		}
		g.waitFrozen(func() bool {
			b, err := readCtl(g.frz + "/freezer.state")
			return err != nil || string(trimNL(b)) == "FROZEN"
		})
		g.signalAll()
		_ = w(g.frz+"/freezer.state", "THAWED")
	}
	deadline := time.Now().Add(killWait)
	sleep := 200 * time.Microsecond
	for {
		pop, err := g.Populated()
		if err != nil {
			return err
		}
		if !pop {
			return nil
		}
		if g.m.kill != killV2 {
			g.signalAll()
		}
		if time.Now().After(deadline) {
			pids, _ := g.Procs()
			return internal(nil, "cgroup %s still has processes %v %s after SIGKILL", g.name, pids, killWait)
		}
		time.Sleep(sleep)
		if sleep < 20*time.Millisecond {
			sleep *= 2
		}
	}
}

func (g *Group) waitFrozen(frozen func() bool) {
	deadline := time.Now().Add(time.Second)
	for !frozen() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

func (g *Group) signalAll() {
	pids, _ := g.Procs()
	for _, p := range pids {
		if p > 0 {
			_ = unix.Kill(p, unix.SIGKILL)
		}
	}
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Stats reads the group's accounting figures; a figure this host does not
// account is 0.
func (g *Group) Stats() (Stats, error) {
	if err := g.gone(); err != nil {
		return Stats{}, err
	}
	var s Stats
	var err error
	if g.mem != "" {
		f := "/memory.usage_in_bytes"
		if g.m.v2Limits {
			f = "/memory.current"
		}
		if s.MemoryBytes, err = readInt(g.mem + f); err != nil {
			return s, internal(err, "cannot read the cgroup's memory usage")
		}
	}
	if g.pids != "" {
		if s.Pids, err = readInt(g.pids + "/pids.current"); err != nil {
			return s, internal(err, "cannot read the cgroup's task count")
		}
	}
	if s.OOMKills, err = g.OOMKills(); err != nil {
		return s, err
	}
	if g.v2 != "" || g.acct != "" {
		if s.CPUUsage, err = g.CPUUsage(); err != nil {
			return s, err
		}
	}
	return s, nil
}

// OOMKills is how many processes of the group the kernel killed for its
// memory limit (0 when the memory controller is not used).
//
// On cgroup v1 the group's OOM killer is held off and the whole group is
// killed at the OOM event (see oomHold): that kill counts as one.
func (g *Group) OOMKills() (int64, error) {
	if g.mem == "" {
		return 0, nil
	}
	held := g.oomHeldKill()
	b, err := g.readOpenCtl(&g.oomFD, g.mem+g.oomFile())
	if err != nil {
		return 0, internal(err, "cannot read the cgroup's OOM kills")
	}
	n, _ := keyedValue(b, "oom_kill")
	return n + held, nil
}

// CPUUsage is the total CPU time of every process that ran in the group
// (v2 cpu.stat usage_usec, which needs no cpu controller; v1 cpuacct.usage).
func (g *Group) CPUUsage() (time.Duration, error) {
	switch {
	case g.v2 != "":
		b, err := readCtl(g.v2 + "/cpu.stat")
		if err != nil {
			return 0, internal(err, "cannot read the cgroup's CPU usage")
		}
		n, ok := keyedValue(b, "usage_usec")
		if !ok {
			return 0, internal(nil, "no usage_usec in %s/cpu.stat", g.v2)
		}
		return time.Duration(n) * time.Microsecond, nil
	case g.acct != "":
		n, err := readInt(g.acct + "/cpuacct.usage")
		if err != nil {
			return 0, internal(err, "cannot read the cgroup's CPU usage")
		}
		return time.Duration(n), nil
	}
	return 0, unavailable(errors.ErrUnsupported, "CPU usage is not accounted on this host")
}

// removeWait bounds how long Remove retries a busy group.
const removeWait = time.Second

// Remove removes the group's directory in every hierarchy, retrying briefly
// while the last task is being torn down (EBUSY). It is idempotent. Kill
// first: a group with live processes stays busy.
func (g *Group) Remove() error {
	g.stopOOMHold()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.removed {
		return nil
	}
	var errs []error
	for i := len(g.dirs) - 1; i >= 0; i-- {
		if err := g.m.rmdirRetry(g.dirs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return internal(errors.Join(errs...), "cannot remove cgroup %s", g.name)
	}
	g.closeCtls()
	g.removed = true
	g.m.forget(g)
	return nil
}

// clearStale removes a group left behind by a dead server whose prefix was
// ours: its processes, orphans that must not outlive their server, are
// killed first.
func (m *Manager) clearStale(dir string) error { return m.ops.killTree(dir) }

func (m *Manager) rmdirRetry(dir string) error { return m.ops.rmdirRetry(dir) }
