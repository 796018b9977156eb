package supervisor

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"time"
)

const clockTicks = 100 // USER_HZ: 100 on every Linux ABI Go supports

// statsState is a process's sampling state (guarded by proc.mu).
type statsState struct {
	lastTicks uint64
	lastTime  time.Time
	latest    *Sample
	history   []Sample
}

// procStat is the part of /proc/PID/stat the stats need.
type procStat struct {
	pid, ppid, pgrp int
	ticks           uint64 // utime+stime+cutime+cstime
	threads         int
	rssPages        int64
}

// readProcStat reads /proc/PID/stat, into buf's storage when it fits.
func readProcStat(pid int, buf []byte) (procStat, bool) {
	data, err := readProcFile("/proc/"+strconv.Itoa(pid)+"/stat", buf)
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := bytes.Fields(data[i+1:])
	// f[0] is field 3 (state): field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, false
	}
	num := func(n int) int64 { v, _ := strconv.ParseInt(string(f[n-3]), 10, 64); return v }
	return procStat{
		pid: pid, ppid: int(num(4)), pgrp: int(num(5)),
		ticks:   uint64(num(14) + num(15) + num(16) + num(17)),
		threads: int(num(20)), rssPages: num(24),
	}, true
}

func readProcIO(pid int) (rchar, wchar int64) {
	data, err := readProcFile("/proc/"+strconv.Itoa(pid)+"/io", nil)
	if err != nil {
		return 0, 0
	}
	for _, line := range bytes.Split(data, []byte("\n")) {
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(string(v), 10, 64)
		switch string(k) {
		case "rchar":
			rchar = n
		case "wchar":
			wchar = n
		}
	}
	return
}

// snapshot of every process on the host: stat by pid, children by ppid.
type snapshot struct {
	stats    map[int]procStat
	children map[int][]int
	byGroup  map[int][]int
}

func takeSnapshot() *snapshot {
	sn := &snapshot{stats: map[int]procStat{}, children: map[int][]int{}, byGroup: map[int][]int{}}
	d, err := os.Open("/proc")
	if err != nil {
		return sn
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	buf := make([]byte, 0, 1024) // one buffer for every stat: parsed before the next is read
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		st, ok := readProcStat(pid, buf)
		if !ok {
			continue
		}
		sn.stats[pid] = st
		sn.children[st.ppid] = append(sn.children[st.ppid], pid)
		sn.byGroup[st.pgrp] = append(sn.byGroup[st.pgrp], pid)
	}
	return sn
}

// tree returns root, its descendants and its process group's members.
func (sn *snapshot) tree(root int) []int {
	seen := map[int]bool{}
	var out []int
	var visit func(int)
	visit = func(pid int) {
		if seen[pid] {
			return
		}
		if _, ok := sn.stats[pid]; !ok {
			return
		}
		seen[pid] = true
		out = append(out, pid)
		for _, c := range sn.children[pid] {
			visit(c)
		}
	}
	visit(root)
	for _, m := range sn.byGroup[root] {
		visit(m)
	}
	return out
}

// treePids is p's tree: its descendants and process group from the
// snapshot, plus every process in its cgroup (descendants that left the
// group and were re-parented: setsid, double fork).
func (p *proc) treePids(sn *snapshot) []int {
	pids := sn.tree(p.pid)
	if p.cg == nil {
		return pids
	}
	in, _ := p.cg.Procs()
	for _, pid := range in {
		if _, ok := sn.stats[pid]; ok && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

var pageSize = int64(os.Getpagesize())

// measure sums the tree of p in sn; cpu% is over the interval since the
// previous sample (since the start for the first).
func (p *proc) measure(sn *snapshot, now time.Time, keep bool) Sample {
	var ticks uint64
	smp := Sample{Time: fmtTime(now)}
	var rss int64
	for _, pid := range p.treePids(sn) {
		st := sn.stats[pid]
		ticks += st.ticks
		smp.ThreadCount += st.threads
		rss += st.rssPages
		r, w := readProcIO(pid)
		smp.IoRead += r
		smp.IoWrite += w
	}
	smp.MemoryMB = float64(rss*pageSize) / (1 << 20)
	p.mu.Lock()
	defer p.mu.Unlock()
	st := &p.stats
	since, base := st.lastTime, st.lastTicks
	if since.IsZero() {
		since, base = p.start, 0
	}
	if dt := now.Sub(since).Seconds(); dt > 0 && ticks > base {
		smp.CpuPercent = float64(ticks-base) / clockTicks / dt * 100
	}
	if keep {
		st.lastTicks, st.lastTime = ticks, now
		st.latest = &smp
		st.history = append(st.history, smp)
		if len(st.history) > historySize {
			st.history = st.history[len(st.history)-historySize:]
		}
	}
	return smp
}

// sampler samples every running process's tree every second (history of 60).
func (s *Supervisor) sampler() {
	defer s.wg.Done()
	t := time.NewTicker(sampleInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		var live []*proc
		for _, p := range s.procs {
			if !p.isExited() {
				live = append(live, p)
			}
		}
		s.mu.Unlock()
		if len(live) == 0 {
			continue
		}
		sn := takeSnapshot()
		now := time.Now()
		for _, p := range live {
			p.measure(sn, now, true)
		}
	}
}

// stats returns p's current figures: memory, threads and I/O read now, cpu%
// from the last sampling interval. An exited process has zeros (and its history).
func (s *Supervisor) stats(p *proc, history bool) *Stats {
	out := &Stats{}
	if !p.isExited() {
		sn := takeSnapshot()
		now := time.Now()
		smp := p.measure(sn, now, false)
		out.MemoryMB, out.ThreadCount, out.IoRead, out.IoWrite = smp.MemoryMB, smp.ThreadCount, smp.IoRead, smp.IoWrite
		out.ProcessCount = len(p.treePids(sn))
		out.CpuPercent = smp.CpuPercent
		p.mu.Lock()
		if p.stats.latest != nil {
			out.CpuPercent = p.stats.latest.CpuPercent
		}
		p.mu.Unlock()
	}
	if history {
		p.mu.Lock()
		out.History = append([]Sample{}, p.stats.history...)
		p.mu.Unlock()
	}
	return out
}

// Stats returns the resource figures of agent's process pid's whole tree.
func (s *Supervisor) Stats(agent string, pid int, includeHistory bool) (*Stats, error) {
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	return s.stats(p, includeHistory), nil
}
