//go:build linux

package cgroup

// How Detect reads the host's layout: the v2 and v1 hierarchies of the
// server's own groups, the choice of v2, v1 or hybrid, and taking the parent
// groups under them (setupV2, setupV1, useParent).

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// setDefaults fills in the options left empty, the prefix named after this
// server.
func (opts *DetectOptions) setDefaults() {
	if opts.Root == "" {
		opts.Root = "/sys/fs/cgroup"
	}
	if opts.ProcSelfCgroup == "" {
		opts.ProcSelfCgroup = "/proc/self/cgroup"
	}
	if opts.MountInfo == "" {
		opts.MountInfo = "/proc/self/mountinfo"
	}
	if opts.pid == 0 {
		opts.pid = os.Getpid()
	}
	if opts.state == nil {
		opts.state = procStart
	}
	if opts.Prefix == "" {
		if start, err := SelfStartTime(); err == nil {
			opts.Prefix = ServerPrefix(opts.pid, start)
		} else {
			// Without a start time: the legacy name, which a later
			// server takes as its owner's only while the pid lives.
			opts.Prefix = ownerPrefix + strconv.Itoa(opts.pid)
		}
	}
}

// pickMount prefers a mount under root, then any.
func pickMount(mounts []mountEntry, root string, ok func(mountEntry) bool) (mountEntry, bool) {
	var first *mountEntry
	for i := range mounts {
		if !ok(mounts[i]) {
			continue
		}
		if mounts[i].Point == root || strings.HasPrefix(mounts[i].Point, strings.TrimSuffix(root, "/")+"/") {
			return mounts[i], true
		}
		if first == nil {
			first = &mounts[i]
		}
	}
	if first != nil {
		return *first, true
	}
	return mountEntry{}, false
}

// findV2 finds the v2 hierarchy and what it offers in the server's own
// group ("" when not usable, with the reason in why).
func findV2(mounts []mountEntry, pc procCgroup, root string, why map[string]string) (own string, avail map[string]bool) {
	avail = map[string]bool{}
	if me, ok := pickMount(mounts, root, func(e mountEntry) bool { return e.V2 }); ok {
		if !pc.HasV2 {
			why["v2"] = "cgroup2 is mounted at " + me.Point + " but /proc/self/cgroup has no 0:: line"
		} else if dir, ok := groupDir(me, pc.V2); !ok || !isDir(dir) {
			why["v2"] = fmt.Sprintf("the server's v2 group %s is not visible under %s (mount root %s)", pc.V2, me.Point, me.Root)
		} else {
			own = dir
			if b, err := readCtl(path.Join(dir, "cgroup.controllers")); err == nil {
				for _, c := range strings.Fields(string(b)) {
					avail[c] = true
				}
			}
		}
	} else {
		why["v2"] = "no cgroup2 mount"
	}
	return own, avail
}

// findV1 finds the v1 hierarchies of the server's groups, deduplicated by
// directory (cpu,cpuacct co-mounted), with the reason for each missing one
// in why.
func findV1(mounts []mountEntry, pc procCgroup, root string, why map[string]string) map[string]*hierarchy {
	v1 := map[string]*hierarchy{}
	byDir := map[string]*hierarchy{}
	for _, c := range []string{"memory", "pids", "cpu", "cpuacct", "freezer"} {
		p, ok := pc.V1[c]
		if !ok {
			why[c] = "no cgroup v1 " + c + " hierarchy"
			continue
		}
		me, ok := pickMount(mounts, root, func(e mountEntry) bool { return !e.V2 && e.has(c) })
		if !ok {
			why[c] = "the cgroup v1 " + c + " hierarchy is not mounted"
			continue
		}
		dir, ok := groupDir(me, p)
		if !ok || !isDir(dir) {
			why[c] = fmt.Sprintf("the server's v1 %s group %s is not visible under %s (mount root %s)", c, p, me.Point, me.Root)
			continue
		}
		h := byDir[dir]
		if h == nil {
			h = &hierarchy{own: dir}
			byDir[dir] = h
		}
		v1[c] = h
	}
	return v1
}

// limitCtrls are the controllers that enforce limits.
var limitCtrls = []string{"memory", "pids", "cpu"}

// chooseVersion decides the layout: v2 when it has every limit controller,
// else v1 (hybrid with a v2 group for tracking) when v1 has at least as
// many, else whatever can track or kill a tree; "none" when nothing can.
func chooseVersion(v2own string, v2avail map[string]bool, v1 map[string]*hierarchy) string {
	v2Count, v1Count := 0, 0
	for _, c := range limitCtrls {
		if v2avail[c] {
			v2Count++
		}
		if v1[c] != nil {
			v1Count++
		}
	}
	switch {
	case v2own != "" && v2Count == len(limitCtrls):
		return "v2"
	case v1Count > 0 && v1Count >= v2Count:
		if v2own != "" {
			return "hybrid"
		}
		return "v1"
	case v2own != "":
		return "v2"
	case v1["freezer"] != nil || v1["cpuacct"] != nil:
		return "v1"
	}
	return "none"
}

// setupV1 takes the v1 hierarchies (and, for hybrid, the v2 group for
// tracking and cgroup.kill), with the reason for each it cannot use in why.
func (m *Manager) setupV1(v2own string, v2avail map[string]bool, v1 map[string]*hierarchy, why map[string]string) {
	if v2own != "" {
		h := &hierarchy{v2: true, own: v2own}
		if err := m.useParent(h); err != nil {
			why["v2"] = err.Error()
		} else {
			m.v2 = h
			m.kill = m.v2KillMode()
		}
	}
	for _, c := range limitCtrls {
		if v1[c] == nil {
			if v2avail[c] {
				why[c] = "the " + c + " controller is bound to cgroup v2 while memory/pids/cpu are used from cgroup v1 (mixed layouts are not supported)"
			}
			continue
		}
		if err := m.useParent(v1[c]); err != nil {
			why[c] = err.Error()
			continue
		}
		m.limitWith(c, v1[c])
	}
	if m.v2 == nil { // no v2 group: v1 cpuacct accounts, v1 freezer kills
		if h := v1["cpuacct"]; h != nil {
			if err := m.useParent(h); err != nil {
				why["cpuacct"] = err.Error()
			} else {
				m.acct = h
			}
		}
		if h := v1["freezer"]; h != nil {
			if err := m.useParent(h); err != nil {
				why["freezer"] = err.Error()
			} else {
				m.frz = h
				m.kill = killV1Freeze
			}
		}
	}
}

// setupV2 prepares v2 mode (see Detect): the limit controllers delegated
// to the server's group (delegatedV2) are enabled in it (enableInOwn) and
// in its parent group for the launches, with the reason for each it cannot
// use in why.
func (m *Manager) setupV2(own string, avail map[string]bool, why map[string]string) {
	want := delegatedV2(own, avail, why)
	want = m.enableInOwn(own, want, why)
	h := &hierarchy{v2: true, own: own}
	if err := m.useParent(h); err != nil {
		why["v2"] = err.Error()
		for _, c := range want {
			why[c] = err.Error()
		}
		return
	}
	m.v2 = h
	m.v2Limits = true
	m.kill = m.v2KillMode()
	if len(want) > 0 {
		if err := m.ops.write(path.Join(h.parent, "cgroup.subtree_control"), plusList(want, "+")); err != nil {
			for _, c := range want {
				why[c] = "cannot enable the " + c + " controller in " + h.parent + ": " + err.Error()
			}
			return
		}
	}
	for _, c := range want {
		m.limitWith(c, h)
	}
}

// delegatedV2 returns the limit controllers (memory, pids, cpu) in avail
// (the server's group's cgroup.controllers), with the reason for each
// missing one in why.
func delegatedV2(own string, avail map[string]bool, why map[string]string) []string {
	var want []string
	for _, c := range []string{"memory", "pids", "cpu"} {
		if avail[c] {
			want = append(want, c)
		} else {
			why[c] = "the " + c + " controller is not delegated to the server's cgroup " + own + " (not in its cgroup.controllers; with systemd use Delegate=yes)"
		}
	}
	return want
}

// enableInOwn enables in the server's own group's cgroup.subtree_control
// each of want not enabled there yet, and returns want without those it
// could not enable (the reason for each in why). A group that has processes
// cannot enable controllers (EBUSY): the server then moves into a leaf of
// its own first (enableFromLeaf).
func (m *Manager) enableInOwn(own string, want []string, why map[string]string) []string {
	enabled := map[string]bool{}
	if b, err := readCtl(path.Join(own, "cgroup.subtree_control")); err == nil {
		for _, c := range strings.Fields(string(b)) {
			enabled[strings.TrimPrefix(c, "+")] = true
		}
	}
	var missing []string
	for _, c := range want {
		if !enabled[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) == 0 {
		return want
	}
	ctl := path.Join(own, "cgroup.subtree_control")
	err := m.ops.write(ctl, plusList(missing, "+"))
	if errors.Is(err, unix.EBUSY) {
		err = m.enableFromLeaf(own, ctl, missing, err)
	}
	if err != nil {
		for _, c := range missing {
			why[c] = "cannot enable the " + c + " controller in " + ctl + ": " + err.Error()
		}
		return filterOut(want, missing)
	}
	m.enabledInOwn = missing
	return want
}

// enableFromLeaf moves the server into <own>/<prefix>-server and enables
// missing in ctl again; on a failure the server moves back and the leaf is
// removed. busy is the first attempt's error.
func (m *Manager) enableFromLeaf(own, ctl string, missing []string, busy error) error {
	leaf := path.Join(own, m.prefix+"-server")
	if e := m.ops.mkdir(leaf); e != nil && !errors.Is(e, unix.EEXIST) {
		return fmt.Errorf("%w; creating %s: %w", busy, leaf, e)
	}
	if e := m.ops.write(path.Join(leaf, "cgroup.procs"), strconv.Itoa(m.pid)); e != nil {
		_ = m.ops.rmdir(leaf)
		return fmt.Errorf("%w; moving the server into %s: %w", busy, leaf, e)
	}
	if err := m.ops.write(ctl, plusList(missing, "+")); err != nil {
		_ = m.ops.write(path.Join(own, "cgroup.procs"), strconv.Itoa(m.pid))
		_ = m.ops.rmdir(leaf)
		return fmt.Errorf("%w (other processes than the server live in %s)", err, own)
	}
	m.serverLeaf = leaf
	return nil
}

// limitWith makes h the hierarchy that limits with controller c (memory,
// pids or cpu).
func (m *Manager) limitWith(c string, h *hierarchy) {
	switch c {
	case "memory":
		m.mem = h
	case "pids":
		m.pids = h
	case "cpu":
		m.cpu = h
	}
}

func (m *Manager) v2KillMode() killMode {
	if fileExists(path.Join(m.v2.parent, "cgroup.kill")) {
		return killV2
	}
	if fileExists(path.Join(m.v2.parent, "cgroup.freeze")) {
		return killV2Freeze
	}
	return killLoop
}

// useParent creates <own>/<prefix> in h (an existing one, left by an earlier
// server with the same pid, is reused) and adds h to the hierarchies used.
func (m *Manager) useParent(h *hierarchy) error {
	if h.parent != "" {
		return nil
	}
	p := path.Join(h.own, m.prefix)
	err := m.ops.mkdir(p)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("cannot create the server's parent group: %w", err)
	}
	if err != nil {
		// Left by a dead server that had our pid: its groups are stale.
		if ents, rerr := os.ReadDir(p); rerr == nil {
			for _, e := range ents {
				if e.IsDir() {
					_ = m.clearStale(p + "/" + e.Name())
				}
			}
		}
	}
	h.parent, h.created, h.idx = p, true, len(m.hs)
	m.hs = append(m.hs, h)
	return nil
}
