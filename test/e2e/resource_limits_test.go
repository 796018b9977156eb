//go:build linux

package e2e

// End-to-end tests of the kernel-enforced resource limits (SPEC 3.5, 3.6,
// 3.8, 6): memory, processes, CPU time (per process and per tree), CPU
// share, file descriptors, the cgroup kill of descendants that left the
// process group, strict enforcement, cgroup cleanup, and maximums.
//
// A test skips (saying why) only when /sys/fs/cgroup is not writable or the
// server reports the limit it needs as not enforced on this host.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup/cgrouptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	rlHelperOnce sync.Once
	rlHelperPath string
	rlHelperErr  error
)

// rlHelper builds testdata/rlhelper.go once, next to the binaries TestMain
// built (its directory is removed when the tests end).
func rlHelper(t *testing.T) string {
	t.Helper()
	rlHelperOnce.Do(func() {
		out := filepath.Join(filepath.Dir(exitWithBin), "rlhelper")
		cmd := exec.Command("go", "build", "-o", out, "./testdata/rlhelper.go")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			rlHelperErr = fmt.Errorf("go build testdata/rlhelper.go: %v\n%s", err, b)
			return
		}
		rlHelperPath = out
	})
	if rlHelperErr != nil {
		t.Fatal(rlHelperErr)
	}
	return rlHelperPath
}

// rlRequireCgroupfs skips the test when the cgroup filesystem is not writable.
func rlRequireCgroupfs(t *testing.T) {
	t.Helper()
	if err := syscall.Access("/sys/fs/cgroup", 2 /* W_OK */); err != nil {
		t.Skipf("/sys/fs/cgroup is not writable (%v): cgroup limits cannot be enforced here", err)
	}
}

// sandboxReport is a launch result's "sandbox".
type sandboxReport struct {
	Applied     []string `json:"applied"`
	NotEnforced []string `json:"notEnforced"`
}

// rlRequire runs /bin/true with limits and skips the test when one of keys
// is reported as not enforced on this host; it fails when a key is neither
// applied nor reported as not enforced.
func rlRequire(t *testing.T, s *mcpServer, limits map[string]any, keys ...string) {
	t.Helper()
	var r struct {
		Sandbox sandboxReport `json:"sandbox"`
	}
	s.ok("process_run", map[string]any{"executable": "/bin/true", "resourceLimits": limits}, &r)
	for _, k := range keys {
		if n := rlFind(r.Sandbox.NotEnforced, k); n != "" {
			t.Skipf("%s is not enforced on this host: %s", k, n)
		}
		if rlFind(r.Sandbox.Applied, k) == "" {
			t.Fatalf("%s is neither applied nor reported as not enforced: sandbox %+v", k, r.Sandbox)
		}
	}
}

// rlFind returns the entry of list naming key ("key" or "key (how)").
func rlFind(list []string, key string) string {
	for _, a := range list {
		if a == key || strings.HasPrefix(a, key+" ") {
			return a
		}
	}
	return ""
}

// rlConfig allows the helper and /bin/true.
func rlConfig(e *testEnv, exes ...string) map[string]any {
	// /bin/sleep: the fork bomb's children, which the tree scope lets run
	// only because the allowlist names it.
	return e.config(append([]string{"/bin/true", "/bin/sleep"}, exes...)...)
}

// rlLimits are a request's resource limits: over, plus enough processes
// (threads count) for a Go helper tree unless over sets maxProcesses.
func rlLimits(over map[string]any) map[string]any {
	l := map[string]any{"maxProcesses": 256}
	for k, v := range over {
		l[k] = v
	}
	return l
}

// rlMarker is a string unique to one test, put on the command lines of its
// helper processes so /proc can be scanned for them.
func rlMarker(t *testing.T) string {
	return fmt.Sprintf("rlmark-%d-%s", os.Getpid(), regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "_"))
}

// markerPids lists the live (not zombie) processes whose command line
// contains marker.
func markerPids(marker string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if strings.Contains(cmdline(pid), marker) && alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// procStatFields returns the fields of /proc/PID/stat after the command
// name (field 3, the state, is index 0).
func procStatFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// cpuSeconds is utime+stime of pid (all its threads) in seconds.
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	f := procStatFields(pid)
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat unreadable", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ is 100 on Linux
}

// pgid is the process group of pid (0 when it does not exist).
func pgid(pid int) int {
	f := procStatFields(pid)
	if len(f) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(f[2])
	return n
}

// cgroupMounts maps a controller ("" for the v2 hierarchy) to its mount
// point and mount root, from /proc/self/mountinfo.
func cgroupMounts(t *testing.T) map[string][2]string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m := map[string][2]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 0 || sep+3 >= len(fields) || len(fields) < 5 {
			continue
		}
		root, point, fstype, super := fields[3], fields[4], fields[sep+1], fields[sep+3]
		switch fstype {
		case "cgroup2":
			if _, ok := m[""]; !ok {
				m[""] = [2]string{point, root}
			}
		case "cgroup":
			for _, opt := range strings.Split(super, ",") {
				if _, ok := m[opt]; !ok {
					m[opt] = [2]string{point, root}
				}
			}
		}
	}
	return m
}

// cgroupDirs returns, per hierarchy of /proc/PID/cgroup ("" for v2, else
// the controller list as written there), the directory of pid's group.
func cgroupDirs(t *testing.T, pid int) map[string]string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/cgroup: %v", pid, err)
	}
	mounts := cgroupMounts(t)
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		ctrls, p := parts[1], parts[2]
		key := strings.Split(ctrls, ",")[0]
		mnt, ok := mounts[key]
		if !ok {
			continue
		}
		rel := p
		if mnt[1] != "/" {
			if !strings.HasPrefix(p, mnt[1]) {
				continue // the group is not visible through this mount
			}
			rel = strings.TrimPrefix(p, mnt[1])
		}
		out[ctrls] = filepath.Join(mnt[0], rel)
	}
	return out
}

// pidsDir is the directory of pid's group in the pids hierarchy (v1) or
// the v2 hierarchy when it has pids files there.
func pidsDir(t *testing.T, pid int) string {
	t.Helper()
	dirs := cgroupDirs(t, pid)
	for ctrls, d := range dirs {
		if slices.Contains(strings.Split(ctrls, ","), "pids") {
			return d
		}
	}
	if d, ok := dirs[""]; ok {
		if _, err := os.Stat(filepath.Join(d, "pids.max")); err == nil {
			return d
		}
	}
	t.Fatalf("pid %d is in no group with a pids controller: %v", pid, dirs)
	return ""
}

func readInt(t *testing.T, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		t.Fatalf("%s: %q is not a number", path, b)
	}
	return n
}

// waitExited calls process_wait until pid has exited or timeout passes and
// returns its status and how long it took.
func waitExited(t *testing.T, s *mcpServer, pid int, timeout time.Duration) (status, time.Duration) {
	t.Helper()
	begin := time.Now()
	for {
		var st status
		s.ok("process_wait", map[string]any{"pid": pid, "timeout": 2000}, &st)
		if st.State == "exited" {
			return st, time.Since(begin)
		}
		if time.Since(begin) > timeout {
			out := s.output(map[string]any{"pid": pid, "tail": 2000})
			t.Fatalf("pid %d still %q after %v; stdout tail %q stderr tail %q\nserver stderr: %s",
				pid, st.State, timeout, out.Stdout, out.Stderr, tail(s.stderr.String(), 3000))
		}
	}
}

type treeStats struct {
	CpuPercent   float64 `json:"cpuPercent"`
	MemoryMB     float64 `json:"memoryMB"`
	ThreadCount  int     `json:"threadCount"`
	ProcessCount int     `json:"processCount"`
}

// 1. A memory bomb under maxMemoryMB 64 is OOM-killed: memory-limit, SIGKILL.
func TestResourceLimitMemory(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	helper := rlHelper(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e, helper))
	limits := rlLimits(map[string]any{"maxMemoryMB": 64})
	rlRequire(t, s, limits, "maxMemoryMB")

	st := s.start(map[string]any{"executable": helper, "args": []string{"mem"}, "resourceLimits": limits})
	fin, took := waitExited(t, s, st.Pid, 30*time.Second)
	out := s.output(map[string]any{"pid": st.Pid})
	if fin.TerminationReason != "memory-limit" || fin.Signal != "SIGKILL" || fin.ExitCode != nil && *fin.ExitCode == 0 {
		t.Errorf("memory bomb ended with reason %q signal %q exitCode %v after %v, want memory-limit SIGKILL\nstdout tail %q\nstderr %q\nserver stderr: %s",
			fin.TerminationReason, fin.Signal, fin.ExitCode, took, tail(out.Stdout, 200), tail(out.Stderr, 500), tail(s.stderr.String(), 2000))
	}
	// It got somewhere, but not past the limit.
	got := 0
	for _, m := range regexp.MustCompile(`allocated (\d+) MiB`).FindAllStringSubmatch(out.Stdout, -1) {
		got, _ = strconv.Atoi(m[1])
	}
	if got < 8 || got > 64 || strings.Contains(out.Stdout, "limit not hit") {
		t.Errorf("the bomb allocated %d MiB under a 64 MB limit (stdout tail %q)", got, tail(out.Stdout, 200))
	}
	waitGone(t, st.Pid, 5*time.Second, false)
	// The server is fine.
	var list struct {
		Processes []status `json:"processes"`
	}
	s.ok("process_list", map[string]any{}, &list)
	if !slices.ContainsFunc(list.Processes, func(p status) bool { return p.Pid == st.Pid && p.TerminationReason == "memory-limit" }) {
		t.Errorf("process_list does not show pid %d with memory-limit: %+v", st.Pid, list.Processes)
	}
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/bin/true"}, &r)
	if r.ExitCode == nil || *r.ExitCode != 0 {
		t.Errorf("a launch after the OOM kill: %+v", r)
	}
}

// 2. A fork bomb under maxProcesses 16 never has more than 16 tasks, keeps
// running, and process_terminate ends every process of it.
func TestResourceLimitProcesses(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	helper := rlHelper(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e, helper))
	const maxTasks = 16
	limits := map[string]any{"maxProcesses": maxTasks}
	rlRequire(t, s, limits, "maxProcesses")

	marker := rlMarker(t)
	st := s.start(map[string]any{"executable": helper, "args": []string{"fork", marker}, "resourceLimits": limits})
	if n := rlFind(st.Sandbox.Applied, "maxProcesses"); n != "maxProcesses (cgroup)" {
		t.Errorf("sandbox.applied %v: want maxProcesses (cgroup)", st.Sandbox.Applied)
	}
	dir := pidsDir(t, st.Pid)
	if got := readInt(t, filepath.Join(dir, "pids.max")); got != maxTasks {
		t.Errorf("%s/pids.max = %d, want %d", dir, got, maxTasks)
	}
	eventually(t, 20*time.Second, "the fork bomb to hit the limit", func() (bool, string) {
		out := s.output(map[string]any{"pid": st.Pid})
		if strings.Contains(out.Stdout, "limit not hit") {
			t.Fatalf("the fork bomb started 64 children under maxProcesses %d: %q", maxTasks, tail(out.Stdout, 300))
		}
		if !alive(st.Pid) {
			t.Fatalf("the fork bomb died: stdout %q stderr %q", tail(out.Stdout, 300), tail(out.Stderr, 1000))
		}
		return strings.Contains(out.Stdout, "fork failed after"), out.Stdout
	})

	// Sample for a while: the limit holds, the bomb keeps trying.
	started := 0
	for i := range 10 {
		if n := readInt(t, filepath.Join(dir, "pids.current")); n > maxTasks {
			t.Errorf("sample %d: %s/pids.current = %d > %d", i, dir, n, maxTasks)
		}
		var ts treeStats
		s.ok("process_get_stats", map[string]any{"pid": st.Pid}, &ts)
		if ts.ThreadCount > maxTasks || ts.ProcessCount > maxTasks {
			t.Errorf("sample %d: process_get_stats threadCount %d processCount %d, want <= %d", i, ts.ThreadCount, ts.ProcessCount, maxTasks)
		}
		if ts.ProcessCount < 2 {
			t.Errorf("sample %d: processCount %d, want the helper and its children", i, ts.ProcessCount)
		}
		threads := 0
		tree := markerPids(marker) // the helper (its args hold the marker) and its children
		if !slices.Contains(tree, st.Pid) {
			t.Errorf("sample %d: the helper %d is not among the marked processes %v", i, st.Pid, tree)
		}
		for _, pid := range tree {
			if f := procStatFields(pid); len(f) > 17 {
				n, _ := strconv.Atoi(f[17]) // num_threads
				threads += n
			}
		}
		if threads > maxTasks {
			t.Errorf("sample %d: %d tasks of the bomb in /proc, want <= %d", i, threads, maxTasks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var status status
	s.ok("process_get_status", map[string]any{"pid": st.Pid}, &status)
	if status.State != "running" {
		t.Fatalf("the fork bomb is %q, want still running (stderr %q)", status.State, s.output(map[string]any{"pid": st.Pid}).Stderr)
	}
	out := s.output(map[string]any{"pid": st.Pid})
	for _, m := range regexp.MustCompile(`started (\d+)`).FindAllStringSubmatch(out.Stdout, -1) {
		started, _ = strconv.Atoi(m[1])
	}
	children := slices.DeleteFunc(markerPids(marker), func(pid int) bool { return pid == st.Pid })
	t.Logf("the bomb started %d children; %d alive", started, len(children))
	if started < 3 || len(children) < 3 || len(children) >= maxTasks {
		t.Errorf("started %d children, %d alive: want a few, fewer than %d", started, len(children), maxTasks)
	}

	var term terminateResult
	s.ok("process_terminate", map[string]any{"pid": st.Pid}, &term)
	if term.TerminationReason != "terminated" && term.TerminationReason != "killed" {
		t.Errorf("terminate: reason %q", term.TerminationReason)
	}
	waitGone(t, st.Pid, 10*time.Second, false)
	for _, pid := range children {
		waitGone(t, pid, 10*time.Second, true)
	}
	eventually(t, 10*time.Second, "no process of the bomb left", func() (bool, string) {
		left := markerPids(marker)
		return len(left) == 0, fmt.Sprint(left)
	})
}

// 3, 4 and 7 burn CPU: they run one after the other, and not in parallel
// with the other tests (no t.Parallel).
func TestResourceLimitCPU(t *testing.T) {
	rlRequireCgroupfs(t)
	helper := rlHelper(t)

	t.Run("maxCpuTime kills a spinner", func(t *testing.T) {
		e := newEnv(t)
		exes := []string{helper}
		python := "/usr/bin/python3"
		if _, err := os.Stat(python); err == nil {
			exes = append(exes, python)
		}
		s := startServer(t, e, rlConfig(e, exes...))
		limits := rlLimits(map[string]any{"maxCpuTime": 1, "maxCpuPercent": 100})
		rlRequire(t, s, limits, "maxCpuTime")
		for _, tc := range []struct {
			name string
			exe  string
			args []string
		}{
			{"go", helper, []string{"spin"}},
			{"python", python, []string{"-c", "while True: pass"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				s.t = t
				defer func() { s.t = t }()
				if !slices.Contains(exes, tc.exe) {
					t.Skipf("%s not installed", tc.exe)
				}
				st := s.start(map[string]any{"executable": tc.exe, "args": tc.args, "resourceLimits": limits})
				if rlFind(st.Sandbox.Applied, "maxCpuTime") != "maxCpuTime (rlimit)" {
					t.Errorf("sandbox.applied %v: want maxCpuTime (rlimit)", st.Sandbox.Applied)
				}
				fin, took := waitExited(t, s, st.Pid, 60*time.Second)
				t.Logf("%s spinner: %s after %v", tc.name, fin.Signal, took.Round(time.Millisecond))
				// SIGXCPU at the soft limit (a Go program ignores it), SIGKILL
				// at the hard one, or SIGTERM from the tree budget watcher.
				if fin.TerminationReason != "cpu-time-limit" || !slices.Contains([]string{"SIGXCPU", "SIGKILL", "SIGTERM"}, fin.Signal) {
					t.Errorf("spinner ended with reason %q signal %q exitCode %v, want cpu-time-limit by SIGXCPU/SIGKILL/SIGTERM\nserver stderr: %s",
						fin.TerminationReason, fin.Signal, fin.ExitCode, tail(s.stderr.String(), 2000))
				}
				waitGone(t, st.Pid, 5*time.Second, false)
			})
		}
	})

	// The tree shares maxCpuTime: 4 spinners under a 1-core quota get
	// 0.25 s/s each, so each alone stays under its RLIMIT_CPU of 2 s for ~8
	// s, while the tree spends 2 s in ~2 s.
	treeCase := func(t *testing.T, strict bool) {
		e := newEnv(t)
		cfg := rlConfig(e, helper)
		if strict {
			cfg["strictResourceEnforcement"] = true
		}
		s := startServer(t, e, cfg)
		limits := rlLimits(map[string]any{"maxCpuTime": 2, "maxCpuPercent": 100})
		rlRequire(t, s, limits, "maxCpuTime", "maxCpuPercent")
		marker := rlMarker(t)
		begin := time.Now()
		st := s.start(map[string]any{"executable": helper, "args": []string{"spintree", "4", marker}, "resourceLimits": limits})
		var pids []int
		func() {
			deadline := time.Now().Add(5 * time.Second)
			for time.Now().Before(deadline) {
				if pids = markerPids(marker); len(pids) == 4 {
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		if len(pids) != 4 || !slices.Contains(pids, st.Pid) {
			t.Errorf("saw %v of the tree of 4 led by %d while it ran", pids, st.Pid)
		}
		// While the tree runs, sample each spinner's CPU time: the tree
		// budget ends the tree after ~2 s of CPU in all, where the
		// per-process limits alone would let it spend ~4 x 2 s. CPU time,
		// not wall time: a busy machine slows the tree, never its total.
		used := map[int]float64{}
		sampled := make(chan struct{})
		stopSampling := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				for _, pid := range pids {
					if f := procStatFields(pid); len(f) >= 13 {
						u, _ := strconv.ParseFloat(f[11], 64)
						k, _ := strconv.ParseFloat(f[12], 64)
						if v := (u + k) / 100; v > used[pid] {
							used[pid] = v
						}
					}
				}
				select {
				case <-stopSampling:
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		fin, _ := waitExited(t, s, st.Pid, 90*time.Second)
		close(stopSampling)
		<-sampled
		took := time.Since(begin)
		var total float64
		for _, v := range used {
			total += v
		}
		t.Logf("tree: %s after %v, %.2f s of CPU in all (strict %v)", fin.Signal, took.Round(time.Millisecond), total, strict)
		if fin.TerminationReason != "cpu-time-limit" {
			t.Errorf("tree ended with reason %q signal %q exitCode %v, want cpu-time-limit\nserver stderr: %s",
				fin.TerminationReason, fin.Signal, fin.ExitCode, tail(s.stderr.String(), 2000))
		}
		if strict && fin.Signal != "SIGKILL" {
			t.Errorf("strict mode: tree leader ended by %q, want SIGKILL at once", fin.Signal)
		}
		if !strict && !slices.Contains([]string{"SIGTERM", "SIGKILL", "SIGXCPU"}, fin.Signal) {
			t.Errorf("tree leader ended by %q, want SIGTERM (or SIGKILL)", fin.Signal)
		}
		// The budget ends the tree at ~2 s of CPU (plus the watcher's
		// reaction); the per-process limits alone would allow ~8 s.
		if total > 4.5 {
			t.Errorf("the tree spent %.2f s of CPU under a 2 s tree budget: the tree budget is not watched", total)
		}
		for _, pid := range pids {
			waitGone(t, pid, 5*time.Second, pid != st.Pid)
		}
		if left := markerPids(marker); len(left) > 0 {
			t.Errorf("spinners left running: %v", left)
		}
	}
	t.Run("maxCpuTime is a tree budget", func(t *testing.T) { treeCase(t, false) })
	t.Run("strict mode kills a tree over its budget with SIGKILL", func(t *testing.T) { treeCase(t, true) })

	t.Run("maxCpuPercent throttles", func(t *testing.T) {
		e := newEnv(t)
		s := startServer(t, e, rlConfig(e, helper))
		limits := rlLimits(map[string]any{"maxCpuPercent": 20})
		rlRequire(t, s, limits, "maxCpuPercent")
		st := s.start(map[string]any{"executable": helper, "args": []string{"spin"}, "resourceLimits": limits})
		time.Sleep(300 * time.Millisecond)
		c0, t0 := cpuSeconds(t, st.Pid), time.Now()
		time.Sleep(3 * time.Second)
		var ts treeStats
		s.ok("process_get_stats", map[string]any{"pid": st.Pid}, &ts)
		c1, t1 := cpuSeconds(t, st.Pid), time.Now()
		used, wall := c1-c0, t1.Sub(t0).Seconds()
		t.Logf("spinner under maxCpuPercent 20: %.2f s CPU in %.2f s; cpuPercent %.1f", used, wall, ts.CpuPercent)
		if used < 0.1*wall || used > 0.3*wall {
			t.Errorf("spinner used %.2f s CPU in %.2f s, want %.2f–%.2f s (20%% of a core)", used, wall, 0.1*wall, 0.3*wall)
		}
		if ts.CpuPercent > 40 {
			t.Errorf("process_get_stats cpuPercent %.1f, want <= 40", ts.CpuPercent)
		}
		s.ok("process_terminate", map[string]any{"pid": st.Pid, "force": true}, nil)
		waitGone(t, st.Pid, 10*time.Second, false)
	})
}

// 5. maxFileDescriptors 16: the 14th open fails with EMFILE (0, 1, 2 are taken).
func TestResourceLimitFileDescriptors(t *testing.T) {
	t.Parallel()
	helper := rlHelper(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e, helper))
	var r struct {
		runResult
		Sandbox sandboxReport `json:"sandbox"`
	}
	s.ok("process_run", map[string]any{"executable": helper, "args": []string{"fds"}, "resourceLimits": rlLimits(map[string]any{"maxFileDescriptors": 16})}, &r)
	if rlFind(r.Sandbox.Applied, "maxFileDescriptors") != "maxFileDescriptors (rlimit)" {
		t.Errorf("sandbox.applied %v: want maxFileDescriptors (rlimit)", r.Sandbox.Applied)
	}
	m := regexp.MustCompile(`opened (\d+): (.*)`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("helper output %q stderr %q, want \"opened N: ERROR\"", r.Stdout, r.Stderr)
	}
	n, _ := strconv.Atoi(m[1])
	if n > 13 || n < 10 || m[2] != "too many open files" {
		t.Errorf("opened %d descriptors before %q; want at most 13 (16 minus stdio) and EMFILE", n, m[2])
	}
	if r.ExitCode == nil || *r.ExitCode != 0 || r.TerminationReason != "exited" {
		t.Errorf("helper: exitCode %v reason %q, want 0 exited", r.ExitCode, r.TerminationReason)
	}
}

// 6. A setsid'd grandchild (double fork) leaves the process group but not
// the cgroup: terminating the leader, or the leader exiting, kills it.
func TestResourceLimitCgroupKillsEscapedDescendants(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	helper := rlHelper(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e, helper))
	// The cgroup is what catches the grandchild; a launch gets one when
	// the host enforces any cgroup limit.
	rlRequire(t, s, rlLimits(nil), "maxProcesses")

	for _, how := range []string{"stay", "exit"} {
		t.Run("leader "+how, func(t *testing.T) {
			s.t = t
			defer func() { s.t = t }()
			marker := rlMarker(t)
			pidfile := filepath.Join(e.work, marker+".pid")
			st := s.start(map[string]any{"executable": helper, "args": []string{"daemon", how, pidfile, marker}, "resourceLimits": rlLimits(nil)})
			var gc int
			eventually(t, 15*time.Second, "the grandchild's pid", func() (bool, string) {
				b, err := os.ReadFile(pidfile)
				if err != nil {
					return false, err.Error()
				}
				gc, err = strconv.Atoi(string(b))
				return err == nil, string(b)
			})
			if how == "stay" {
				// It survived its parent (the middle process) and left the
				// leader's process group.
				time.Sleep(200 * time.Millisecond)
				if !alive(gc) {
					t.Fatalf("grandchild %d is not running", gc)
				}
				if g, lg := pgid(gc), pgid(st.Pid); g == lg || g != gc {
					t.Fatalf("grandchild %d is in process group %d (leader's %d): the helper did not setsid", gc, g, lg)
				}
				var term terminateResult
				s.ok("process_terminate", map[string]any{"pid": st.Pid}, &term)
				if term.TerminationReason != "terminated" && term.TerminationReason != "killed" {
					t.Errorf("terminate: reason %q", term.TerminationReason)
				}
			} else {
				fin, _ := waitExited(t, s, st.Pid, 15*time.Second)
				if fin.ExitCode == nil || *fin.ExitCode != 0 || fin.TerminationReason != "exited" {
					t.Errorf("leader: exitCode %v reason %q, want 0 exited", fin.ExitCode, fin.TerminationReason)
				}
			}
			waitGone(t, gc, 10*time.Second, true)
			if left := markerPids(marker); len(left) > 0 {
				t.Errorf("processes left running: %v", left)
			}
		})
	}
}

// rlStartServerNoCgroups is startServer on a simulated host without
// cgroups: the server runs in its own mount namespace with /sys/fs/cgroup
// unmounted (the host's mounts are untouched).
func rlStartServerNoCgroups(t *testing.T, e *testEnv, cfg map[string]any) *mcpServer {
	t.Helper()
	helper := rlHelper(t)
	path := e.writeConfig(t, "config-nocgroup.json", cfg)
	s := &mcpServer{t: t, env: e, stderr: &syncBuffer{}}
	s.cmd = exec.Command(helper, "nocgroup", serverBin, "serve", "--config", path)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes / private in it
	s.cmd.Dir = e.work
	s.cmd.Env = e.environ()
	s.cmd.Stderr = s.stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "e2e-test", Version: "1.0.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: s.cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect to mcp-process without cgroups: %v\nserver stderr:\n%s", err, s.stderr)
	}
	s.session = session
	t.Cleanup(func() { s.close() })
	return s
}

// 7 (first half). On a host without usable cgroups, the cgroup limits are
// reported as not enforced, and strictResourceEnforcement refuses a launch
// asking for one (LAYER_UNAVAILABLE naming it) while rlimits still work.
func TestResourceLimitsWithoutCgroups(t *testing.T) {
	t.Parallel()
	helper := rlHelper(t)
	// Built-in defaults set cgroup limits too: switch them off so only the
	// request's limits count.
	off := map[string]any{"maxMemoryMB": 0, "maxProcesses": 0, "maxCpuPercent": 0, "maxFileDescriptors": 0, "maxCpuTime": 0}
	cgroupLimits := map[string]any{"maxMemoryMB": 128, "maxProcesses": 64, "maxCpuPercent": 50}

	t.Run("not enforced, reported", func(t *testing.T) {
		e := newEnv(t)
		cfg := rlConfig(e, helper)
		cfg["defaultResourceLimits"] = off
		s := rlStartServerNoCgroups(t, e, cfg)
		var pol struct {
			Layers map[string]string `json:"layers"`
		}
		s.ok("process_get_policy", map[string]any{}, &pol)
		t.Logf("resource-limits layer: %s", pol.Layers["resource-limits"])
		// Nothing holds a tree that leaves its process group if the server
		// is killed: said in the policy and once on stderr at start.
		if l := pol.Layers["tree-kill-on-server-death"]; !strings.HasPrefix(l, "missing: ") {
			t.Errorf("layers[tree-kill-on-server-death] = %q, want missing", l)
		}
		if n := strings.Count(s.stderr.String(), "tree kill on server death: missing"); n != 1 {
			t.Errorf("server stderr says %d times that nothing holds a tree, want once:\n%s", n, s.stderr)
		}
		// The limits that are off are said once on stderr at start too.
		if n := strings.Count(s.stderr.String(), "resource limits not enforced on this host: maxMemoryMB"); n != 1 {
			t.Errorf("server stderr says %d times that the resource limits are off, want once:\n%s", n, s.stderr)
		}
		if l := pol.Layers["resource-limits"]; !strings.Contains(l, "not enforced") && !strings.Contains(l, "not detected") {
			t.Errorf("layers[resource-limits] = %q, want it to say the cgroup limits are not enforced", l)
		}
		st := s.start(map[string]any{"executable": helper, "args": []string{"fds"}, "resourceLimits": map[string]any{
			"maxMemoryMB": 128, "maxProcesses": 64, "maxCpuPercent": 50, "maxFileDescriptors": 16}})
		for _, k := range []string{"maxMemoryMB", "maxProcesses", "maxCpuPercent"} {
			if rlFind(st.Sandbox.NotEnforced, k) == "" || rlFind(st.Sandbox.Applied, k) != "" {
				t.Errorf("sandbox %+v: want %s not enforced", st.Sandbox, k)
			}
		}
		if rlFind(st.Sandbox.Applied, "maxFileDescriptors") == "" {
			t.Errorf("sandbox.applied %v lacks maxFileDescriptors (an rlimit needs no cgroup)", st.Sandbox.Applied)
		}
		var status struct {
			Sandbox sandboxReport `json:"sandbox"`
		}
		s.ok("process_get_status", map[string]any{"pid": st.Pid}, &status)
		if rlFind(status.Sandbox.NotEnforced, "maxMemoryMB") == "" {
			t.Errorf("process_get_status sandbox %+v: want maxMemoryMB not enforced", status.Sandbox)
		}
		fin := s.wait(st.Pid)
		out := s.output(map[string]any{"pid": st.Pid})
		if !strings.Contains(out.Stdout, "opened 13: too many open files") || fin.TerminationReason != "exited" {
			t.Errorf("fds helper without cgroups: %q (%s), want the rlimit to hold: opened 13", out.Stdout, fin.TerminationReason)
		}
	})

	t.Run("strict refuses", func(t *testing.T) {
		e := newEnv(t)
		cfg := rlConfig(e, helper)
		cfg["defaultResourceLimits"] = off
		cfg["strictResourceEnforcement"] = true
		s := rlStartServerNoCgroups(t, e, cfg)
		for k, v := range cgroupLimits {
			for _, tool := range []string{"process_start", "process_run"} {
				te := s.failCode(tool, map[string]any{"executable": "/bin/true", "resourceLimits": map[string]any{k: v}}, "LAYER_UNAVAILABLE")
				if !strings.Contains(te.Message, k) {
					t.Errorf("%s with %s: LAYER_UNAVAILABLE message %q does not name it", tool, k, te.Message)
				}
			}
		}
		// maxCpuTime is a budget of the whole tree: without cgroup CPU
		// accounting only RLIMIT_CPU per process holds, so strict refuses it.
		te := s.failCode("process_run", map[string]any{"executable": "/bin/true", "resourceLimits": map[string]any{"maxCpuTime": 5}}, "LAYER_UNAVAILABLE")
		if !strings.Contains(te.Message, "maxCpuTime for the whole tree") {
			t.Errorf("maxCpuTime without cgroups, strict: message %q does not say the tree budget is the problem", te.Message)
		}
		// What can be enforced still runs.
		var r runResult
		s.ok("process_run", map[string]any{"executable": "/bin/true", "resourceLimits": map[string]any{"maxFileDescriptors": 64}}, &r)
		if r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("a launch with an rlimit only, strict, no cgroups: %+v", r)
		}
		refused := 0
		for _, rec := range e.auditRecords(t) {
			if rec["code"] == "LAYER_UNAVAILABLE" {
				refused++
			}
		}
		if refused < 2*len(cgroupLimits)+1 {
			t.Errorf("%d audit records with LAYER_UNAVAILABLE, want %d", refused, 2*len(cgroupLimits)+1)
		}
	})
}

// 8. 100 launches leave no cgroup behind, and groups do not pile up.
func TestResourceLimitCgroupsRemoved(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	e := newEnv(t)
	s := startServer(t, e, rlConfig(e))
	limits := rlLimits(map[string]any{"maxMemoryMB": 64, "maxCpuPercent": 50})
	rlRequire(t, s, limits, "maxProcesses")

	spid := s.cmd.Process.Pid
	// The server's parent groups: "mcp-process-PID-START", START being
	// its start time (/proc/PID/stat field 22).
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", spid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	name := fmt.Sprintf("mcp-process-%d-%s", spid, fields[19])
	var parents []string
	for _, d := range cgroupDirs(t, spid) {
		for _, p := range []string{filepath.Join(d, name), filepath.Join(filepath.Dir(d), name)} {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() && !slices.Contains(parents, p) {
				parents = append(parents, p)
			}
		}
	}
	if len(parents) == 0 {
		t.Fatalf("no %s group next to the server's groups %v", name, cgroupDirs(t, spid))
	}
	t.Logf("the server's parent groups: %v", parents)

	children := func() (int, []string) {
		most, all := 0, []string(nil)
		for _, p := range parents {
			ents, _ := os.ReadDir(p)
			n := 0
			for _, e := range ents {
				if e.IsDir() {
					n++
					all = append(all, filepath.Join(p, e.Name()))
				}
			}
			most = max(most, n)
		}
		return most, all
	}
	var (
		mu      sync.Mutex
		peak    int
		peakDir []string
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			n, dirs := children()
			mu.Lock()
			if n > peak {
				peak, peakDir = n, dirs
			}
			mu.Unlock()
		}
	}()
	for i := range 100 {
		var r runResult
		s.ok("process_run", map[string]any{"executable": "/bin/true", "resourceLimits": limits}, &r)
		if r.ExitCode == nil || *r.ExitCode != 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	close(stop)
	wg.Wait()
	// Besides launch groups, up to warmStages idle init stages wait in
	// groups of their own ("stage-S-N"), ready for the next launch, and up
	// to pooledGroups fresh groups wait, empty and never used, for a
	// launch without a warm stage ("p-S-N", internal/sandbox/cgroups_pool.go).
	const warmStages, pooledGroups = 2, 4
	if peak > 5+warmStages+pooledGroups {
		t.Errorf("up to %d groups at once under a parent during 100 sequential runs: %v", peak, peakDir)
	}
	eventually(t, 5*time.Second, "every launch group removed (only idle warm-stage groups and pooled fresh groups left)", func() (bool, string) {
		n, dirs := children()
		for _, d := range dirs {
			if !strings.HasPrefix(filepath.Base(d), "stage-") && !cgrouptest.PooledFresh(d) {
				return false, fmt.Sprint(dirs)
			}
		}
		return n <= warmStages+pooledGroups, fmt.Sprint(dirs)
	})

	if err := s.close(); err != nil {
		t.Logf("close: %v", err)
	}
	for _, p := range parents {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s remains after the server exited", p)
		}
	}
	// Anywhere in the cgroup filesystem, a few levels deep.
	root := "/sys/fs/cgroup"
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if d.Name() == name || d.Name() == name+"-server" {
			t.Errorf("%s remains after the server exited", p)
		}
		if strings.Count(strings.TrimPrefix(p, root), "/") >= 5 {
			return filepath.SkipDir
		}
		return nil
	})
}

// 9. A request above maximumResourceLimits is refused naming the maximum;
// a launch reports how each limit is enforced.
func TestResourceLimitMaximumAndApplied(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := rlConfig(e)
	cfg["maximumResourceLimits"] = map[string]any{"maxMemoryMB": 128, "maxCpuTime": 30, "maxProcesses": 100, "maxFileDescriptors": 512, "maxCpuPercent": 90}
	s := startServer(t, e, cfg)
	for _, tc := range []struct {
		key  string
		over any
		max  string
	}{
		{"maxMemoryMB", 256, "128"},
		{"maxCpuTime", 31, "30"},
		{"maxProcesses", 1000, "100"},
		{"maxFileDescriptors", 513, "512"},
		{"maxCpuPercent", 95, "90"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			s.t = t
			defer func() { s.t = t }()
			for _, tool := range []string{"process_start", "process_run"} {
				te := s.failCode(tool, map[string]any{"executable": "/bin/true", "resourceLimits": map[string]any{tc.key: tc.over}}, "RESOURCE_LIMIT_EXCEEDS_MAXIMUM")
				if !strings.Contains(te.Message, tc.key) || !regexp.MustCompile(`\b`+tc.max+`\b`).MatchString(te.Message) {
					t.Errorf("%s: message %q does not name %s and its maximum %s", tool, te.Message, tc.key, tc.max)
				}
			}
		})
	}

	t.Run("applied", func(t *testing.T) {
		s.t = t
		defer func() { s.t = t }()
		rlRequireCgroupfs(t)
		all := map[string]any{"maxMemoryMB": 128, "maxProcesses": 64, "maxCpuPercent": 50, "maxFileDescriptors": 256, "maxCpuTime": 10}
		var r struct {
			runResult
			Sandbox sandboxReport  `json:"sandbox"`
			Limits  map[string]any `json:"limits"`
		}
		s.ok("process_run", map[string]any{"executable": "/bin/true", "resourceLimits": all}, &r)
		if len(r.Sandbox.NotEnforced) > 0 {
			t.Skipf("not enforced on this host: %v", r.Sandbox.NotEnforced)
		}
		for _, want := range []string{"maxMemoryMB (cgroup)", "maxProcesses (cgroup)", "maxCpuPercent (cgroup)", "maxFileDescriptors (rlimit)", "maxCpuTime (rlimit)"} {
			if !slices.Contains(r.Sandbox.Applied, want) {
				t.Errorf("sandbox.applied %v lacks %q", r.Sandbox.Applied, want)
			}
		}
		for k, v := range all {
			if fmt.Sprint(r.Limits[k]) != fmt.Sprint(v) {
				t.Errorf("limits[%s] = %v, want %v (limits %v)", k, r.Limits[k], v, r.Limits)
			}
		}
	})
}
