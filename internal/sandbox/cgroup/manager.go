//go:build linux

package cgroup

import (
	"errors"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// DetectOptions say where to look. Zero values take the defaults.
type DetectOptions struct {
	Root           string // where cgroup hierarchies are preferably mounted; default "/sys/fs/cgroup"
	ProcSelfCgroup string // default "/proc/self/cgroup"
	MountInfo      string // default "/proc/self/mountinfo"
	// Prefix names the server's parent group, created under the server's own
	// group in every hierarchy used; default "mcp-process-<pid>-<start>"
	// (ServerPrefix: the server's pid and start time).
	Prefix string

	ops   *fsOps    // tests: a fake cgroupfs
	pid   int       // tests: the server's pid (default os.Getpid())
	state procState // tests: what /proc says of a pid (default procStart)
}

// hierarchy is one mounted hierarchy the Manager creates groups in.
type hierarchy struct {
	v2      bool
	own     string // the server's own group directory
	parent  string // the parent of launch groups (own/<prefix>)
	created bool   // parent was created by Detect (Close removes it)
	idx     int    // index in Manager.hs and Group.dirs
}

type killMode int

const (
	killLoop     killMode = iota // SIGKILL every pid in cgroup.procs until empty (racy against forks)
	killV2                       // write "1" to cgroup.kill
	killV2Freeze                 // cgroup.freeze, SIGKILL all, unfreeze (v2 before 5.14)
	killV1Freeze                 // freezer.state FROZEN, SIGKILL all, THAWED
)

// Manager creates, kills, accounts and removes launch groups under the
// server's parent group. It is safe for concurrent use.
type Manager struct {
	ops     fsOps
	pid     int
	prefix  string
	support Support

	hs []*hierarchy // every hierarchy a launch group is created in, in order
	// Roles: which hierarchy provides what (nil when unavailable).
	v2, mem, pids, cpu, acct, frz *hierarchy
	v2Limits                      bool        // memory/pids/cpu limit files are v2 files (mode "v2")
	noMemsw                       atomic.Bool // v1: no memory.memsw.limit_in_bytes (no swap accounting)
	kill                          killMode

	// v2 "no internal processes" scheme (see Detect).
	serverLeaf   string   // the leaf the server moved itself into, "" if it did not
	enabledInOwn []string // controllers Detect enabled in the own group's subtree_control

	state procState
	swept []string  // groups of dead servers removed by Detect
	wd    *watchdog // started by StartWatchdog; stopped by Close

	mu     sync.Mutex
	groups map[*Group]struct{}
	closed bool
}

// Detect inspects this host once and prepares the server's parent groups.
//
// Choice: "v2" when the v2 hierarchy offers memory, pids and cpu in the
// server's own group (its cgroup.controllers); else "hybrid" (v1 memory,
// pids, cpu hierarchies plus a v2 mount, used for tracking, cgroup.kill and
// CPU usage) or "v1" (no v2 mount: the v1 freezer kills, cpuacct accounts)
// when any of the v1 memory/pids/cpu hierarchies is mounted; else "v2" with
// whatever the v2 group offers (a v2 group without controllers still tracks,
// kills and accounts a tree); else "none". Limits the chosen layout cannot
// set are reported false in Support, with the reason.
//
// The parent group <own>/<prefix> is created in every hierarchy used. In v2
// mode the controllers must be enabled in <own>/cgroup.subtree_control, which
// the kernel refuses (EBUSY) while <own> itself has processes (the "no
// internal processes" rule). The scheme: if they are not enabled yet, try to
// enable them; on EBUSY, move the server (only the server's own process,
// never another) into the leaf <own>/<prefix>-server and try again; if that
// still fails (other processes live in <own>), move the server back and
// report the controllers unavailable. Close undoes all of it.
//
// Detect fails only for an invalid Prefix; a host without usable cgroups
// gives a Manager whose Support says "none" and why.
func Detect(opts DetectOptions) (*Manager, error) {
	opts.setDefaults()
	if err := validName(opts.Prefix); err != nil {
		return nil, errcode.Fail(errcode.InvalidInput, layer, "use a plain directory name", "cgroup prefix %q: %v", opts.Prefix, err)
	}
	m := &Manager{
		ops:     sysOps,
		pid:     opts.pid,
		prefix:  opts.Prefix,
		support: Support{Version: "none", Reasons: map[string]string{}},
		groups:  map[*Group]struct{}{},
		state:   opts.state,
	}
	if opts.ops != nil {
		m.ops = *opts.ops
	}

	mi, err := os.ReadFile(opts.MountInfo)
	if err != nil {
		m.finish("cannot read the mount table: " + err.Error())
		return m, nil
	}
	pcData, err := os.ReadFile(opts.ProcSelfCgroup)
	if err != nil {
		m.finish("cannot read the server's cgroup: " + err.Error())
		return m, nil
	}
	mounts := parseMountInfo(mi)
	pc := parseProcCgroup(pcData)
	why := map[string]string{} // per controller: why it is not usable

	v2own, v2avail := findV2(mounts, pc, opts.Root, why)
	v1 := findV1(mounts, pc, opts.Root, why)
	m.support.Version = chooseVersion(v2own, v2avail, v1)
	switch m.support.Version {
	case "v2":
		m.setupV2(v2own, v2avail, why)
	case "v1", "hybrid":
		m.setupV1(v2own, v2avail, v1, why)
	}
	m.sweep()
	m.finishWith(why)
	return m, nil
}

// sweep removes the groups of dead servers next to this server's parent
// group in every hierarchy used (see Swept), the hierarchies that kill a
// whole tree at once (v2, the v1 freezer) first.
func (m *Manager) sweep() {
	order := make([]*hierarchy, 0, len(m.hs))
	for _, h := range m.hs {
		if h == m.v2 || h == m.frz {
			order = append(order, h)
		}
	}
	for _, h := range m.hs {
		if h != m.v2 && h != m.frz {
			order = append(order, h)
		}
	}
	for _, h := range order {
		removed, _ := m.ops.sweep(h.own, m.prefix, m.pid, m.state)
		m.swept = append(m.swept, removed...)
	}
}

// Swept lists the groups of dead servers that Detect killed and removed:
// next to this server's parent group, every "mcp-process-<pid>-<start>"
// (and "-server" leaf) whose owner is no longer running — no process has
// that pid with that start time — and every legacy "mcp-process-<pid>"
// whose pid is gone. A live server's groups are never touched.
func (m *Manager) Swept() []string { return append([]string(nil), m.swept...) }

// Prefix is the name of this server's parent groups.
func (m *Manager) Prefix() string { return m.prefix }

// finish is the "nothing usable" case.
func (m *Manager) finish(reason string) {
	m.support.Version = "none"
	m.finishWith(map[string]string{"all": reason})
}

func (m *Manager) finishWith(why map[string]string) {
	s := &m.support
	if len(m.hs) == 0 {
		s.Version = "none"
	}
	reason := func(keys ...string) string {
		var parts []string
		for _, k := range keys {
			if r := why[k]; r != "" {
				parts = append(parts, r)
			}
		}
		if r := why["all"]; r != "" {
			parts = append(parts, r)
		}
		if len(parts) == 0 {
			return "no usable cgroup hierarchy"
		}
		return strings.Join(parts, "; ")
	}
	s.Memory, s.Pids, s.CPU = m.mem != nil, m.pids != nil, m.cpu != nil
	s.CPUUsage = m.v2 != nil || m.acct != nil
	s.Kill = m.kill != killLoop && len(m.hs) > 0
	if !s.Memory {
		s.Reasons["memory"] = reason("memory")
	}
	if !s.Pids {
		s.Reasons["pids"] = reason("pids")
	}
	if !s.CPU {
		s.Reasons["cpu"] = reason("cpu")
	}
	if !s.CPUUsage {
		s.Reasons["cpuusage"] = reason("v2", "cpuacct")
	}
	if !s.Kill {
		if len(m.hs) > 0 {
			s.Reasons["kill"] = "neither cgroup.kill, cgroup.freeze nor the v1 freezer is available (" + reason("v2", "freezer") + "): Kill falls back to SIGKILL over cgroup.procs, which a forking tree can race"
		} else {
			s.Reasons["kill"] = reason("v2", "freezer")
		}
	}
}

// Support says what this host enforces (a copy).
func (m *Manager) Support() Support {
	s := m.support
	s.Reasons = make(map[string]string, len(m.support.Reasons))
	for k, v := range m.support.Reasons {
		s.Reasons[k] = v
	}
	return s
}

// Parents returns the parent group directories Detect uses, one per
// hierarchy (for diagnostics).
func (m *Manager) Parents() []string {
	out := make([]string, len(m.hs))
	for i, h := range m.hs {
		out[i] = h.parent
	}
	return out
}

// Close kills and removes every launch group still alive, then removes the
// parent groups Detect created and undoes its v2 server-leaf move. It is
// idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	var left []*Group
	for g := range m.groups {
		left = append(left, g)
	}
	m.mu.Unlock()
	sort.Slice(left, func(i, j int) bool { return left[i].name < left[j].name })

	var errs []error
	for _, g := range left {
		if err := g.Kill(); err != nil {
			errs = append(errs, err)
		}
		if err := g.Remove(); err != nil {
			errs = append(errs, err)
		}
	}
	for i := len(m.hs) - 1; i >= 0; i-- {
		h := m.hs[i]
		if !h.created {
			continue
		}
		if err := m.rmdirRetry(h.parent); err != nil {
			errs = append(errs, internal(err, "cannot remove the server's parent group"))
			continue
		}
		h.created = false
	}
	// The watchdog finds nothing left, and exits; it lives in the
	// server's group (the leaf below included) until then.
	if err := m.stopWatchdog(); err != nil {
		errs = append(errs, err)
	}
	if m.serverLeaf != "" && m.v2 != nil {
		own := m.v2.own
		if len(m.enabledInOwn) > 0 {
			_ = m.ops.write(path.Join(own, "cgroup.subtree_control"), plusList(m.enabledInOwn, "-"))
		}
		if err := m.ops.write(path.Join(own, "cgroup.procs"), strconv.Itoa(m.pid)); err != nil {
			errs = append(errs, internal(err, "cannot move the server back to its own group %s", own))
		} else if err := m.rmdirRetry(m.serverLeaf); err != nil {
			errs = append(errs, internal(err, "cannot remove the server's leaf group"))
		} else {
			m.serverLeaf = ""
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

func (m *Manager) forget(g *Group) {
	m.mu.Lock()
	delete(m.groups, g)
	m.mu.Unlock()
}

func plusList(ctrls []string, sign string) string {
	var b strings.Builder
	for i, c := range ctrls {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(sign)
		b.WriteString(c)
	}
	return b.String()
}

func filterOut(list, drop []string) []string {
	var out []string
outer:
	for _, c := range list {
		for _, d := range drop {
			if c == d {
				continue outer
			}
		}
		out = append(out, c)
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// validName accepts one plain path element.
func validName(s string) error {
	switch {
	case s == "" || s == "." || s == "..":
		return errors.New("empty or dot name")
	case strings.ContainsAny(s, "/\x00\n"):
		return errors.New("contains '/', NUL or newline")
	case len(s) > 200:
		return errors.New("longer than 200 bytes")
	}
	return nil
}

// TreeHold says what kills every process a server started when the server
// dies (by any means: see StartWatchdog), and whether anything does: the
// watchdog acting on this Manager's groups, with this host's way to kill
// a group. Without a usable hierarchy nothing holds a whole tree, and the
// reason says why.
func (m *Manager) TreeHold() (how string, ok bool) {
	if len(m.hs) == 0 {
		return "no usable cgroup hierarchy (" + m.support.Reasons["kill"] + ")", false
	}
	var kill string
	switch m.kill {
	case killV2:
		kill = "cgroup.kill"
	case killV2Freeze:
		kill = "cgroup.freeze, SIGKILL, thaw"
	case killV1Freeze:
		kill = "the v1 freezer: freeze, SIGKILL, thaw"
	default:
		kill = "SIGKILL over cgroup.procs until empty (a fast-forking tree can race it)"
	}
	return "cgroup " + m.support.Version + " + watchdog process (" + kill + ")", true
}
