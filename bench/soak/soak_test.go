//go:build linux

package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup/cgrouptest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var (
	flagLaunches = flag.Int("soak.launches", 0, "launches to make (default 200, the short mode go test runs; bench/soak/run.sh: 10000)")
	flagSeed     = flag.Uint64("soak.seed", 15, "seed of the mix")
	flagWorkers  = flag.Int("soak.workers", 2, "concurrent callers")
)

const (
	shortLaunches = 200
	// retention is the config's exitedRetentionSeconds: exited processes'
	// output is dropped this soon, so RSS can come back.
	retention = 3
)

// serverProc is the soak's server: the built binary over stdio.
type serverProc struct {
	cmd     *exec.Cmd
	session *mcp.ClientSession
	pid     int
	exe     string
	gc      *gcTrace
}

// gcTrace reads the server's stderr: the Go runtime's GODEBUG=gctrace=1
// lines ("gc N @Ts P%: ... A->B->C MB, D MB goal, ...") give the live heap
// after each collection (C) from outside the server; every other line is
// passed on to the soak's stderr.
type gcTrace struct {
	mu      sync.Mutex
	partial []byte
	n       int     // collections seen
	liveMB  float64 // the last collection's live heap (MB)
}

func (g *gcTrace) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.partial = append(g.partial, b...)
	for {
		i := bytes.IndexByte(g.partial, '\n')
		if i < 0 {
			break
		}
		line := string(g.partial[:i+1])
		g.partial = g.partial[i+1:]
		if !strings.HasPrefix(line, "gc ") {
			os.Stderr.WriteString(line)
			continue
		}
		// "... 4->4->1 MB, ..."
		for _, f := range strings.Fields(line) {
			if parts := strings.Split(f, "->"); len(parts) == 3 {
				if v, err := strconv.ParseFloat(parts[2], 64); err == nil {
					g.n++
					g.liveMB = v
				}
			}
		}
	}
	return len(b), nil
}

func (g *gcTrace) last() (int, float64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n, g.liveMB
}

func buildServer(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mcp-process")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/mcp-process/mcp-process/cmd/mcp-process")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// env is the soak's private directories.
type env struct {
	dir, work, audit string
}

func newEnv(t *testing.T) env {
	t.Helper()
	dir := t.TempDir()
	e := env{dir: dir, work: filepath.Join(dir, "work"), audit: filepath.Join(dir, "audit", "audit.log")}
	for _, d := range []string{e.work, filepath.Join(dir, "home"), filepath.Join(dir, "audit"), filepath.Join(dir, "bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A root server's children run as uid 65534: they must reach the
	// working directory (t.TempDir's parent is 0700).
	for _, d := range []string{filepath.Dir(dir), dir, filepath.Join(dir, "bin")} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(e.work, 0o777); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e env) config(t *testing.T, name string) string {
	t.Helper()
	cfg := map[string]any{
		"allowedExecutables":        []string{"/bin/echo", "/bin/true", "/bin/sleep", "/bin/cat"},
		"allowedWorkingDirectories": []string{e.work},
		"auditLogPath":              e.audit,
		"blockedArgumentPatterns":   []string{".*--soak-forbidden.*"},
		"maxLaunchesPerMinute":      0,
		"maxConcurrentProcesses":    64,
		"exitedRetentionSeconds":    retention,
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCP_PROCESS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+filepath.Join(e.dir, "home"), "XDG_STATE_HOME="+filepath.Join(e.dir, "home", "state"))
}

func startServer(t *testing.T, bin string, e env, cfgName string, flags ...string) *serverProc {
	t.Helper()
	cfg := e.config(t, cfgName)
	cmd := exec.Command(bin, append([]string{"serve", "--config", cfg}, flags...)...)
	cmd.Dir = e.work
	gc := &gcTrace{}
	cmd.Env = append(e.environ(), "GODEBUG=gctrace=1")
	cmd.Stderr = gc
	client := mcp.NewClient(&mcp.Implementation{Name: "soak", Version: "1.0.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return &serverProc{cmd: cmd, session: session, pid: cmd.Process.Pid, exe: bin, gc: gc}
}

// result is a tool call's answer: the JSON of a success or of an error.
type result struct {
	isError bool
	body    json.RawMessage
}

func (r result) code() string {
	var v struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.body, &v)
	return v.Error.Code
}

func (s *serverProc) call(name string, args any) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", name, err)
	}
	r := result{isError: res.IsError}
	if res.IsError {
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				r.body = append(r.body, tc.Text...)
			}
		}
		return r, nil
	}
	r.body, err = json.Marshal(res.StructuredContent)
	return r, err
}

// stats are the soak's counts; safe for concurrent use.
type stats struct {
	mu         sync.Mutex
	launches   map[string]int // launches (processes started) by kind
	ops        map[string]int // operations by kind
	codes      map[string]int // error codes of bad inputs as expected
	failures   []string       // anything not as documented
	launchesN  atomic.Int64
	healthSeen int // services whose health turned healthy before their stop
}

func (st *stats) fail(format string, a ...any) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.failures) < 50 {
		st.failures = append(st.failures, fmt.Sprintf(format, a...))
	} else if len(st.failures) == 50 {
		st.failures = append(st.failures, "(more failures left off)")
	}
}

func (st *stats) count(kind string, launches int) {
	st.mu.Lock()
	st.ops[kind]++
	st.launches[kind] += launches
	st.mu.Unlock()
	st.launchesN.Add(int64(launches))
}

func (st *stats) code(c string) {
	st.mu.Lock()
	st.codes[c]++
	st.mu.Unlock()
}

// worker is one caller with its own seeded mix.
type worker struct {
	id    int
	s     *serverProc
	rng   *rand.Rand
	st    *stats
	other int // a pid of another agent's process (a second server)
	seq   int
	svcs  []string // live services, oldest first
}

func (w *worker) name(kind string) string {
	w.seq++
	return fmt.Sprintf("%s-%d-%d", kind, w.id, w.seq)
}

// ok calls a tool that must succeed and decodes its result into out.
func (w *worker) ok(name string, args any, out any) bool {
	r, err := w.s.call(name, args)
	if err != nil {
		w.st.fail("%v", err)
		return false
	}
	if r.isError {
		w.st.fail("%s(%s): %s", name, short(args), r.body)
		return false
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			w.st.fail("%s: %v", name, err)
			return false
		}
	}
	return true
}

// bad calls a tool that must fail with code.
func (w *worker) bad(what, name string, args any, code string) {
	r, err := w.s.call(name, args)
	switch {
	case err != nil:
		w.st.fail("bad input %s: %v", what, err)
	case !r.isError:
		w.st.fail("bad input %s: %s succeeded: %s", what, name, r.body)
	case r.code() != code:
		w.st.fail("bad input %s: %s gave %s, want %s: %s", what, name, r.code(), code, r.body)
	default:
		w.st.code(code)
	}
	w.st.count("bad:"+what, 0)
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 200 {
		return string(b[:200]) + "..."
	}
	return string(b)
}

type pidOut struct {
	Pid int `json:"pid"`
}

type runOut struct {
	Pid      int    `json:"pid"`
	ExitCode *int   `json:"exitCode"`
	Stdout   string `json:"stdout"`
}

// step does one operation of the mix.
func (w *worker) step() {
	switch x := w.rng.IntN(100); {
	case x < 30:
		w.run()
	case x < 42:
		w.startTerminate()
	case x < 52:
		w.stdin()
	case x < 57:
		w.service()
	case x < 67:
		w.group()
	default:
		w.badInput()
	}
}

func (w *worker) run() {
	var r runOut
	switch w.rng.IntN(3) {
	case 0:
		word := w.name("echo")
		if w.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{word}}, &r) && r.Stdout != word+"\n" {
			w.st.fail("echo %s: stdout %q", word, r.Stdout)
		}
	case 1:
		w.ok("process_run", map[string]any{"executable": "true"}, &r)
	default:
		w.ok("process_run", map[string]any{"executable": "sleep", "args": []string{"0.05"}}, &r)
	}
	if r.ExitCode == nil || *r.ExitCode != 0 {
		w.st.fail("process_run pid %d: exit code %v", r.Pid, r.ExitCode)
	}
	w.st.count("run", 1)
}

func (w *worker) startTerminate() {
	var p pidOut
	if w.ok("process_start", map[string]any{"executable": "sleep", "args": []string{"60"}}, &p) {
		w.ok("process_terminate", map[string]any{"pid": p.Pid, "force": w.rng.IntN(2) == 0, "timeout": 2000}, nil)
	}
	w.st.count("start+terminate", 1)
}

func (w *worker) stdin() {
	var p pidOut
	line := w.name("line") + "\n"
	if w.ok("process_start", map[string]any{"executable": "cat"}, &p) &&
		w.ok("process_send_stdin", map[string]any{"pid": p.Pid, "data": line, "closeStdin": true}, nil) &&
		w.ok("process_wait", map[string]any{"pid": p.Pid, "timeout": 10000}, nil) {
		var o struct {
			Stdout string `json:"stdout"`
		}
		if w.ok("process_get_output", map[string]any{"pid": p.Pid, "stream": "stdout"}, &o) && o.Stdout != line {
			w.st.fail("cat pid %d: stdout %q, want %q", p.Pid, o.Stdout, line)
		}
	}
	w.st.count("stdin+output", 1)
}

// service starts a service with a health check; at most two live at once
// per worker, so each lives a few operations (long enough for checks).
func (w *worker) service() {
	name := w.name("svc")
	if w.ok("process_start_service", map[string]any{
		"name": name, "executable": "sleep", "args": []string{"600"},
		"healthCheck": map[string]any{"command": []string{"true"}, "interval": 1000, "timeout": 1000},
	}, nil) {
		w.svcs = append(w.svcs, name)
	}
	w.st.count("service", 1)
	for len(w.svcs) > 2 {
		w.stopService()
	}
}

func (w *worker) stopService() {
	name := w.svcs[0]
	w.svcs = w.svcs[1:]
	var h struct {
		Health string `json:"health"`
	}
	if w.ok("process_get_service", map[string]any{"serviceId": name}, &h) && h.Health == "healthy" {
		w.st.mu.Lock()
		w.st.healthSeen++
		w.st.mu.Unlock()
	}
	w.ok("process_stop_service", map[string]any{"serviceId": name}, nil)
}

func (w *worker) group() {
	var g struct {
		GroupID string `json:"groupId"`
	}
	if !w.ok("process_create_group", map[string]any{"name": w.name("grp")}, &g) {
		return
	}
	n := 2 + w.rng.IntN(2)
	started := 0
	for range n {
		var p pidOut
		if w.ok("process_start", map[string]any{"executable": "sleep", "args": []string{"60"}}, &p) {
			started++
			w.ok("process_add_to_group", map[string]any{"groupId": g.GroupID, "pid": p.Pid}, nil)
		}
	}
	w.ok("process_terminate_group", map[string]any{"groupId": g.GroupID, "force": w.rng.IntN(2) == 0}, nil)
	w.st.count("group", started)
}

// badInput sends one of the bad inputs; each must get its documented code
// (docs/mcp.md, docs/arguments.md, docs/executables.md, docs/processes.md).
func (w *worker) badInput() {
	huge := strings.Repeat("A", 1<<20)
	many := make([]string, 101)
	for i := range many {
		many[i] = "x"
	}
	switch w.rng.IntN(14) {
	case 0:
		w.bad("unknown executable", "process_run", map[string]any{"executable": []string{"/usr/bin/soak-no-such-program", "soak-no-such-program"}[w.rng.IntN(2)]}, "EXECUTABLE_NOT_FOUND")
	case 1:
		w.bad("executable not allowed", "process_start", map[string]any{"executable": "/bin/ls"}, "EXECUTABLE_NOT_ALLOWED")
	case 13:
		w.bad("shell", "process_run", map[string]any{"executable": "/bin/bash", "args": []string{"-c", "true"}}, "SHELL_BLOCKED")
	case 12:
		w.bad("blocklisted executable", "process_start", map[string]any{"executable": "/usr/bin/env", "args": []string{"true"}}, "EXECUTABLE_BLOCKED")
	case 2:
		w.bad("blocked argument", "process_run", map[string]any{"executable": "/bin/echo", "args": []string{"ok", "--soak-forbidden=1"}}, "ARGUMENT_INVALID")
	case 3:
		w.bad("injection argument", "process_run", map[string]any{"executable": "/bin/echo", "args": []string{"a;b"}}, "ARGUMENT_INVALID")
	case 4:
		w.bad("huge argument (1 MiB)", "process_run", map[string]any{"executable": "/bin/echo", "args": []string{huge}}, "ARGUMENT_INVALID")
	case 5:
		w.bad("too many arguments", "process_start", map[string]any{"executable": "/bin/echo", "args": many}, "ARGUMENT_INVALID")
	case 6:
		w.bad("wrong type (executable: 5)", "process_run", map[string]any{"executable": 5}, "INVALID_INPUT")
	case 7:
		w.bad("wrong type (pid: \"abc\")", "process_get_status", map[string]any{"pid": "abc"}, "INVALID_INPUT")
	case 8:
		w.bad("bad pid", "process_terminate", map[string]any{"pid": 999999999}, "PROCESS_NOT_FOUND")
	case 9:
		w.bad("another agent's pid", []string{"process_terminate", "process_get_output", "process_send_stdin"}[w.rng.IntN(3)],
			map[string]any{"pid": w.other}, "PROCESS_NOT_FOUND")
	case 10:
		w.bad("health interval < 1000 ms", "process_start_service", map[string]any{
			"name": w.name("badsvc"), "executable": "sleep", "args": []string{"600"},
			"healthCheck": map[string]any{"command": "true", "interval": 500, "timeout": 500},
		}, "INVALID_INPUT")
	default:
		w.bad("cwd not allowed", "process_run", map[string]any{"executable": "true", "cwd": "/etc"}, "CWD_NOT_ALLOWED")
	}
}

// sample is the server measured from outside at one moment.
type sample struct {
	at          time.Duration
	launches    int64
	rssKiB      int
	threads     int
	fds         int
	descendants int // every process below the server
	targets     int // of them, not the server's own binary (launched programs)
	groups      int // cgroups below the server's parent groups
}

func measure(s *serverProc, t0 time.Time, launches int64) sample {
	sm := sample{at: time.Since(t0), launches: launches}
	sm.rssKiB, sm.threads, _ = statusFields(s.pid)
	sm.fds = fdCount(s.pid)
	for _, p := range descendants(s.pid) {
		sm.descendants++
		if p.exe != s.exe {
			sm.targets++
		}
	}
	_, groups := serverGroups(s.pid)
	sm.groups = len(groupNames(groups))
	return sm
}

func (sm sample) row(label string) string {
	return fmt.Sprintf("| %-12s | %8.1f | %8d | %8.1f | %7d | %4d | %11d | %7d | %7d |", label, sm.at.Seconds(), sm.launches,
		float64(sm.rssKiB)/1024, sm.threads, sm.fds, sm.descendants, sm.targets, sm.groups)
}

const header = "| point        | time (s) | launches | RSS (MiB)| threads |  fds | descendants | targets | cgroups |\n" +
	"|--------------|----------|----------|----------|---------|------|-------------|---------|---------|"

// TestSoak is the soak of SPEC 7.2 (issue 15). go test runs the short mode;
// bench/soak/run.sh the full one.
func TestSoak(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the soak counts the server's launch cgroups, which only a root server creates; run it as root")
	}
	n := *flagLaunches
	if n == 0 {
		n = shortLaunches
	}
	full := n >= 5000
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildServer(t, dir)
	e := newEnv(t)
	s := startServer(t, bin, e, "config.json")
	defer s.session.Close()

	// Another agent: a second server with its own agent id; its process's
	// pid is one the soak's server must treat as not there.
	other := startServer(t, bin, e, "config-other.json", "--agent-id", "soak-other")
	defer other.session.Close()
	r, err := other.call("process_start", map[string]any{"executable": "sleep", "args": []string{"3600"}})
	var op pidOut
	if err != nil || r.isError || json.Unmarshal(r.body, &op) != nil {
		t.Fatalf("other agent's process_start: %v %s", err, r.body)
	}

	st := &stats{launches: map[string]int{}, ops: map[string]int{}, codes: map[string]int{}}
	start := measure(s, time.Now(), 0)
	t0 := time.Now()
	workers := make([]*worker, *flagWorkers)
	for i := range workers {
		workers[i] = &worker{id: i, s: s, rng: rand.New(rand.NewPCG(*flagSeed, uint64(i))), st: st, other: op.Pid}
	}
	runUntil := func(target int64) {
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() {
				for st.launchesN.Load() < target {
					w.step()
				}
			})
		}
		wg.Wait()
	}

	// Warm-up: 5% of the launches (at least 50); the baseline is taken
	// after it, once its exited processes are past retention.
	warm := max(int64(n)/20, 50)
	runUntil(warm)
	stopServices(workers)
	time.Sleep((retention + 2) * time.Second)
	base := measure(s, t0, st.launchesN.Load())
	_, baseLive := s.gc.last()
	baseParents, _ := serverGroups(s.pid)
	rows := []string{start.row("start"), base.row("after warm-up")}
	// Peaks: sampled every 250 ms during the run by one goroutine, owned
	// here and stopped before the end is measured.
	var peakMu sync.Mutex
	peak := base
	stopSampler := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-tick.C:
			}
			rss, threads, err := statusFields(s.pid)
			fds := fdCount(s.pid)
			if err != nil {
				continue
			}
			peakMu.Lock()
			peak.rssKiB, peak.threads, peak.fds = max(peak.rssKiB, rss), max(peak.threads, threads), max(peak.fds, fds)
			peakMu.Unlock()
		}
	})

	// The run, measured at ten checkpoints.
	for i := 1; i <= 10; i++ {
		target := warm + (int64(n)-warm)*int64(i)/10
		runUntil(target)
		sm := measure(s, t0, st.launchesN.Load())
		rows = append(rows, sm.row(fmt.Sprintf("checkpoint %d", i)))
		t.Logf("checkpoint %d: %d launches, RSS %.1f MiB", i, sm.launches, float64(sm.rssKiB)/1024)
	}
	runDur := time.Since(t0)
	stopServices(workers)
	close(stopSampler)
	sampler.Wait()

	// Everything is stopped: wait out the retention of exited output, then
	// (for RSS) up to 60 s more for the Go runtime to return freed memory.
	time.Sleep((retention + 2) * time.Second)
	gcAtEnd, _ := s.gc.last()
	end := measure(s, t0, st.launchesN.Load())
	// Full mode: wait for a collection of the idle server (the runtime
	// forces one every 2 minutes) to read its live heap, and for RSS to
	// come back (the runtime returns freed memory gradually).
	for deadline := time.Now().Add(150 * time.Second); full && time.Now().Before(deadline); {
		if n, _ := s.gc.last(); n > gcAtEnd && end.rssKiB <= base.rssKiB*11/10 {
			break
		}
		time.Sleep(2 * time.Second)
		end = measure(s, t0, st.launchesN.Load())
	}
	gcN, endLive := s.gc.last()
	rows = append(rows, end.row("end"))
	_, endGroups := serverGroups(s.pid)
	endProcs := descendants(s.pid)
	var leakedProcs []string
	for _, p := range endProcs {
		if p.exe != s.exe {
			leakedProcs = append(leakedProcs, fmt.Sprintf("%d %s (%s)", p.pid, p.comm, p.exe))
		}
	}
	// A launch group left is one that holds anything but a warm stage of
	// the pool (the server's own binary, waiting for a launch), or nothing
	// and is not one of the launchers' pooled fresh groups (empty, no limit
	// written: every launch here has the default limits).
	var leakedGroups []string
	for _, g := range endGroups {
		pids := cgroupPids([]string{g})
		pool := len(pids) > 0 || cgrouptest.PooledFresh(g)
		for _, pid := range pids {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); exe != s.exe {
				pool = false
				leakedProcs = append(leakedProcs, fmt.Sprintf("%d (%s) in %s", pid, exe, g))
			}
		}
		if !pool {
			leakedGroups = append(leakedGroups, g)
		}
	}

	// The server's exit: nothing of it may remain.
	other.session.Close()
	closeErr := s.session.Close()
	var afterExit []string
	time.Sleep(500 * time.Millisecond)
	for _, p := range endProcs {
		if alive(p) {
			afterExit = append(afterExit, fmt.Sprintf("%d %s", p.pid, p.comm))
		}
	}
	for _, d := range baseParents {
		if _, err := os.Stat(d); err == nil {
			afterExit = append(afterExit, "cgroup "+d)
		}
	}

	// Report.
	var b strings.Builder
	fmt.Fprintf(&b, "\nsoak: %d launches (target %d), seed %d, %d workers, %s, %.1f launches/s, kernel %s, uid %d\n\n",
		st.launchesN.Load(), n, *flagSeed, len(workers), runDur.Round(time.Second), float64(st.launchesN.Load()-warm)/(runDur.Seconds()-base.at.Seconds()), kernel(), os.Getuid())
	b.WriteString(header + "\n" + strings.Join(rows, "\n") + "\n\n")
	b.WriteString("| kind | operations | launches |\n|---|---|---|\n")
	st.mu.Lock()
	badOps := 0
	for _, k := range sortedKeys(st.ops) {
		if strings.HasPrefix(k, "bad:") {
			badOps += st.ops[k]
			continue
		}
		fmt.Fprintf(&b, "| %s | %d | %d |\n", k, st.ops[k], st.launches[k])
	}
	fmt.Fprintf(&b, "| bad inputs | %d | 0 |\n\n", badOps)
	b.WriteString("| bad input | count |\n|---|---|\n")
	for _, k := range sortedKeys(st.ops) {
		if strings.HasPrefix(k, "bad:") {
			fmt.Fprintf(&b, "| %s | %d |\n", strings.TrimPrefix(k, "bad:"), st.ops[k])
		}
	}
	b.WriteString("\n| error code (as documented) | count |\n|---|---|\n")
	for _, k := range sortedKeys(st.codes) {
		fmt.Fprintf(&b, "| %s | %d |\n", k, st.codes[k])
	}
	fmt.Fprintf(&b, "\nservices seen healthy before their stop: %d of %d\n", st.healthSeen, st.ops["service"])
	fmt.Fprintf(&b, "RSS: start %.1f MiB, after warm-up %.1f, peak %.1f (sampled every 250 ms), end %.1f (%+.1f%% of after warm-up)\n",
		float64(start.rssKiB)/1024, float64(base.rssKiB)/1024, float64(peak.rssKiB)/1024, float64(end.rssKiB)/1024,
		100*float64(end.rssKiB-base.rssKiB)/float64(base.rssKiB))
	fmt.Fprintf(&b, "live heap after the last collection (GODEBUG=gctrace=1): after warm-up %.0f MB, end %.0f MB (%d collections; the end one %s)\n",
		baseLive, endLive, gcN, map[bool]string{true: "of the idle server", false: "during the run"}[gcN > gcAtEnd])
	fmt.Fprintf(&b, "fds: start %d, after warm-up %d, peak %d, end %d; threads (no goroutine count is exposed): start %d, after warm-up %d, peak %d, end %d\n",
		start.fds, base.fds, peak.fds, end.fds, start.threads, base.threads, peak.threads, end.threads)
	fmt.Fprintf(&b, "leaked: processes %d, cgroups %d, after the server's exit %d; unexpected results %d\n",
		len(leakedProcs), len(leakedGroups), len(afterExit), len(st.failures))
	failures := append([]string(nil), st.failures...)
	st.mu.Unlock()
	t.Log(b.String())
	if out := os.Getenv("SOAK_REPORT"); out != "" {
		_ = os.WriteFile(out, []byte(b.String()), 0o644)
	}

	for _, f := range failures {
		t.Errorf("not as documented: %s", f)
	}
	if len(leakedProcs) > 0 {
		t.Errorf("processes left after every launch was stopped: %v", leakedProcs)
	}
	if len(leakedGroups) > 0 {
		t.Errorf("cgroups left after every launch was stopped: %v", leakedGroups)
	}
	if len(afterExit) > 0 {
		t.Errorf("left after the server's exit: %v", afterExit)
	}
	if end.fds > base.fds+4 {
		t.Errorf("server fds: %d after warm-up, %d at the end", base.fds, end.fds)
	}
	if full && end.rssKiB > base.rssKiB*11/10 {
		t.Errorf("server RSS %d KiB at the end, more than 10%% above %d KiB after warm-up", end.rssKiB, base.rssKiB)
	}
	var exitErr *exec.ExitError
	if closeErr != nil && !errors.As(closeErr, &exitErr) {
		t.Errorf("server close: %v", closeErr)
	}
}

// stopServices stops every worker's live services.
func stopServices(ws []*worker) {
	for _, w := range ws {
		for len(w.svcs) > 0 {
			w.stopService()
		}
	}
}

// groupNames dedupes group paths by name: a launch group has a directory in
// every hierarchy used.
func groupNames(paths []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		if n := filepath.Base(p); !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}
