//go:build linux

package soak

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// What the soak measures of the server, from outside: /proc and the cgroup
// hierarchies, nothing the server reports about itself.

// procInfo is one process as /proc shows it.
type procInfo struct {
	pid   int
	ppid  int
	start uint64 // starttime (clock ticks since boot): a pid with another start is another process
	comm  string
	exe   string // readlink /proc/PID/exe ("" if unreadable)
}

// readStat parses /proc/PID/stat: comm, ppid and starttime.
func readStat(pid int) (procInfo, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	// comm is in parentheses and may hold spaces and parentheses: the
	// fields after it start after the last ')'.
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: no comm", pid)
	}
	f := strings.Fields(string(b[close+1:]))
	if len(f) < 20 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procInfo{pid: pid, ppid: ppid, start: start, comm: string(b[open+1 : close])}, nil
}

// allProcs reads every process of the host.
func allProcs() []procInfo {
	ents, _ := os.ReadDir("/proc")
	var ps []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, err := readStat(pid)
		if err != nil {
			continue // exited meanwhile
		}
		p.exe, _ = os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		ps = append(ps, p)
	}
	return ps
}

// descendants returns every process whose ancestry leads to root.
func descendants(root int) []procInfo {
	ps := allProcs()
	kids := map[int][]procInfo{}
	for _, p := range ps {
		kids[p.ppid] = append(kids[p.ppid], p)
	}
	var out []procInfo
	queue := []int{root}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, k := range kids[n] {
			out = append(out, k)
			queue = append(queue, k.pid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

// alive reports whether p still exists as the same process.
func alive(p procInfo) bool {
	q, err := readStat(p.pid)
	return err == nil && q.start == p.start
}

// statusFields reads VmRSS (KiB) and Threads from /proc/PID/status.
func statusFields(pid int) (rssKiB, threads int, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			rssKiB, _ = strconv.Atoi(fs[0])
		case "Threads":
			threads, _ = strconv.Atoi(fs[0])
		}
	}
	return rssKiB, threads, sc.Err()
}

// fdCount counts /proc/PID/fd.
func fdCount(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// cgroupMounts lists the mounted cgroup (v1) and cgroup2 hierarchies.
func cgroupMounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var ms []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && (f[2] == "cgroup" || f[2] == "cgroup2") {
			ms = append(ms, f[1])
		}
	}
	return ms
}

// serverGroups finds, in every cgroup hierarchy, the server's parent groups
// (internal/sandbox/cgroup: "mcp-process-<pid>-<start>", or the legacy
// "mcp-process-<pid>") and returns them with every group below them (the
// launch groups), as paths relative to the hierarchy's mount point.
func serverGroups(serverPid int) (parents, groups []string) {
	exact := fmt.Sprintf("mcp-process-%d", serverPid)
	for _, m := range cgroupMounts() {
		_ = filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			n := d.Name()
			if n != exact && !strings.HasPrefix(n, exact+"-") {
				return nil
			}
			parents = append(parents, p)
			_ = filepath.WalkDir(p, func(q string, e fs.DirEntry, err error) error {
				if err == nil && e.IsDir() && q != p {
					groups = append(groups, q)
				}
				return nil
			})
			return filepath.SkipDir
		})
	}
	return parents, groups
}

// cgroupPids returns the pids in cgroup.procs of dirs (v1 and v2 alike).
func cgroupPids(dirs []string) []int {
	var pids []int
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		if err != nil {
			continue
		}
		for _, l := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(l); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}
