//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// stageChildren lists this process's children that are init stages (alive
// or zombie), from /proc, with their keepers (which share a stage's memory,
// so its command line; a live keeper holds no descriptor).
func stageChildren(t *testing.T) (stages, keepers []int) {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(stat)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if f[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if strings.Contains(string(cmd), stage.Arg) || f[0] == "Z" && strings.Contains(s, "(exe)") {
			if fds, _ := os.ReadDir("/proc/" + e.Name() + "/fd"); f[0] != "Z" && len(fds) == 0 {
				keepers = append(keepers, pid)
				continue
			}
			stages = append(stages, pid)
		}
	}
	return stages, keepers
}

// idlePids waits until l's pool is full and returns its stages' pids.
func idlePids(t *testing.T, l *Launcher) []int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		l.mu.Lock()
		var pids []int
		for _, s := range l.idle {
			pids = append(pids, s.proc.Pid)
		}
		l.mu.Unlock()
		if len(pids) >= l.poolSize {
			return pids
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool holds %d stages, want %d", len(pids), l.poolSize)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// idleInRecv waits until the stage pid blocks in recvmsg, waiting for its
// launch (its runtime started, its prologue done).
func idleInRecv(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wchan, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/wchan")
		stat, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if strings.Contains(string(wchan), "unix_stream") || strings.Contains(string(wchan), "wait_woken") ||
			(len(wchan) == 0 && strings.Contains(string(stat), " S ")) {
			time.Sleep(50 * time.Millisecond) // past the prologue either way
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage %d never idled (wchan %q)", pid, wchan)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// After Close no init stage is left: the idle ones are killed and reaped,
// and so is one that a launch holds at its gate (Pdeathsig).
func TestCloseLeavesNoStage(t *testing.T) {
	if pids, keepers := stageChildren(t); len(pids)+len(keepers) != 0 {
		t.Fatalf("stages %v, keepers %v before the test", pids, keepers)
	}
	l := NewLauncher(LauncherOptions{Stage: StageGo})
	idle := idlePids(t, l)
	p, err := l.Start(specFor(t, "true"), Stdio{}) // held at its gate
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(idle, p.Pid) {
		t.Fatalf("the launch got stage %d, not one of the idle %v", p.Pid, idle)
	}
	// The pool may already be refilling the stage the launch took: the
	// idle stages are there, and maybe one more (its keeper maybe not yet).
	got, keepers := stageChildren(t)
	for _, pid := range idle {
		if !slices.Contains(got, pid) {
			t.Fatalf("stage children %v, want the idle ones %v among them", got, idle)
		}
	}
	if runtime.GOARCH == "amd64" && len(keepers) < len(idle) {
		t.Fatalf("keepers %v, want one for each idle stage %v", keepers, idle)
	}
	l.Close()
	p.Wait()
	if got, keepers := stageChildren(t); len(got)+len(keepers) != 0 {
		t.Fatalf("stages %v, keepers %v survived Close", got, keepers)
	}
}

// With an empty pool (size 0) every launch starts its stage cold, and
// behaves the same.
func TestColdPathWhenThePoolIsEmpty(t *testing.T) {
	l := goStageLauncher(0, Isolation{})
	defer l.Close()
	for i := 0; i < 3; i++ {
		out, st := run(t, l, specFor(t, "env"))
		if out != "A=1\n" || st.ExitCode == nil || *st.ExitCode != 0 {
			t.Fatalf("output %q, exit %v", out, st)
		}
	}
	time.Sleep(50 * time.Millisecond)
	l.mu.Lock()
	n := len(l.idle)
	l.mu.Unlock()
	if n != 0 {
		t.Fatalf("a pool of size 0 holds %d stages", n)
	}
}

// Ten concurrent launches each get their own working stage.
func TestConcurrentStartsGetDistinctStages(t *testing.T) {
	l := NewLauncher(LauncherOptions{Stage: StageGo})
	defer l.Close()
	const n = 10
	var wg sync.WaitGroup
	outs, pids := make([]string, n), make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			spec := specFor(t, "env")
			spec.Env = []string{"I=" + strconv.Itoa(i)}
			r, w, err := os.Pipe()
			if err != nil {
				errs[i] = err
				return
			}
			defer r.Close()
			p, err := l.Start(spec, Stdio{Stdout: w})
			w.Close()
			if err != nil {
				errs[i] = err
				return
			}
			pids[i] = p.Pid
			if errs[i] = p.Release(); errs[i] != nil {
				return
			}
			buf := make([]byte, 64)
			k, _ := r.Read(buf)
			outs[i] = string(buf[:k])
			p.Wait()
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || outs[i] != "I="+strconv.Itoa(i)+"\n" {
			t.Errorf("launch %d: output %q, err %v", i, outs[i], errs[i])
		}
	}
	sorted := slices.Clone(pids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != n {
		t.Fatalf("pids %v are not distinct", pids)
	}
}

// A pooled stage that died while idle is skipped (and reaped), the launch
// works, and the pool is refilled.
func TestDeadIdleStageIsReplaced(t *testing.T) {
	l := NewLauncher(LauncherOptions{Stage: StageGo})
	defer l.Close()
	idle := idlePids(t, l)
	for _, pid := range idle {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range idle {
		waitGone(t, pid) // a zombie now
	}
	// The dead idle stages are skipped and a new stage takes the launch.
	out, st := run(t, l, specFor(t, "env"))
	if out != "A=1\n" || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("output %q, exit %v", out, st)
	}
	for _, pid := range idle {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("the dead idle stage %d was not reaped", pid)
		}
	}
	for _, pid := range idlePids(t, l) {
		if slices.Contains(idle, pid) {
			t.Fatalf("the pool still holds the dead stage %d", pid)
		}
	}
}

// An idle stage holds /dev/null as 0, 1, 2 and its socket, nothing of the
// server's (not even a descriptor it leaks without close-on-exec), and it
// is quiet: it does not wake up while it waits.
func TestIdleStageHoldsOnlyItsSocketAndSleeps(t *testing.T) {
	leakPath := filepath.Join(t.TempDir(), "server-secret")
	leak, err := os.Create(leakPath)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, leak.Fd(), syscall.F_SETFD, 0); e != 0 {
		t.Fatal(e)
	}
	l := NewLauncher(LauncherOptions{Stage: StageGo})
	defer l.Close()
	for _, pid := range idlePids(t, l) {
		idleInRecv(t, pid)
		dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			target, _ := os.Readlink(dir + e.Name())
			fd, _ := strconv.Atoi(e.Name())
			switch {
			case fd <= 2 && target != os.DevNull:
				t.Errorf("stage %d: fd %d is %s, want /dev/null", pid, fd, target)
			case fd == stage.SocketFD && !strings.HasPrefix(target, "socket:"):
				t.Errorf("stage %d: fd %d is %s, want its socket", pid, fd, target)
			case target == leakPath || strings.HasPrefix(target, "pipe:") || strings.HasPrefix(target, "socket:") && fd != stage.SocketFD:
				t.Errorf("stage %d holds fd %d -> %s of the server", pid, fd, target)
			}
		}
		switches := func() int {
			total := 0
			tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
			for _, task := range tasks {
				st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/task/" + task.Name() + "/status")
				for _, line := range strings.Split(string(st), "\n") {
					if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
						n, _ := strconv.Atoi(strings.TrimSpace(v))
						total += n
					}
				}
			}
			return total
		}
		before := switches()
		time.Sleep(time.Second)
		// Preempting a stage blocked in a raw system call would wake it
		// some 200 times a second.
		if woke := switches() - before; woke > 20 {
			t.Errorf("idle stage %d woke %d times in a second", pid, woke)
		}
	}
}

// tryRun is run, returning the launch's error instead of failing the test.
func tryRun(l *Launcher, spec *policy.Spec) (string, ExitState, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return "", ExitState{}, err
	}
	defer r.Close()
	p, err := l.Start(spec, Stdio{Stdout: w})
	w.Close()
	if err != nil {
		return "", ExitState{}, err
	}
	if err := p.Release(); err != nil {
		return "", ExitState{}, err
	}
	out, _ := io.ReadAll(r)
	return string(out), p.Wait(), nil
}

// poolLen is how many warm stages l holds now.
func poolLen(l *Launcher) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}

// After a launch that leaves a warm stage in the pool, the refill waits
// refillDelay (off the new target's first moments); after one that empties
// it, the refill starts at once.
func TestRefillWaitsWhileAStageIsLeft(t *testing.T) {
	l := goStageLauncher(2, Isolation{})
	defer l.Close()
	idlePids(t, l)
	released := time.Now()
	run(t, l, specFor(t, "true")) // one stage left
	if n := poolLen(l); n != 1 && time.Since(released) < refillDelay {
		t.Fatalf("%d warm stages %v after the launch, want 1 until %v have passed", n, time.Since(released), refillDelay)
	}
	idlePids(t, l) // and then it is full again
	if d := time.Since(released); d < refillDelay {
		t.Fatalf("the pool was full again %v after the launch, before the refill delay %v", d, refillDelay)
	}

	// Two launches held at their gates empty the pool: the first release
	// refills at once.
	p1, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if n := poolLen(l); n != 0 {
		t.Fatalf("%d warm stages after two launches from a pool of 2", n)
	}
	t0 := time.Now()
	if err := p1.Release(); err != nil {
		t.Fatal(err)
	}
	p1.Wait()
	for poolLen(l) == 0 {
		if time.Since(t0) > 10*time.Second {
			t.Fatal("the empty pool was not refilled")
		}
		time.Sleep(time.Millisecond)
	}
	p2.Abort()
	// A stage takes a few ms to start; the delayed refill would have
	// waited refillDelay first. (Only a bound that cannot fail on a slow
	// machine is checked: the refill began, which is what idlePids saw.)
	idlePids(t, l)
}

// start runs during (where the cgroup step runs) while the stage applies
// its steps, with Pid set; an error from during aborts the launch, nothing
// runs, and the error comes back as is.
func TestStartDuring(t *testing.T) {
	l := goStageLauncher(1, Isolation{})
	defer l.Close()
	idlePids(t, l)
	called := 0
	p, err := l.start(specFor(t, "true"), Stdio{}, func(p *Process) error {
		called++
		if p.Pid <= 0 {
			t.Errorf("during got pid %d", p.Pid)
		}
		return nil
	}, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if called != 1 {
		t.Fatalf("during called %d times", called)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("exit %v", st)
	}

	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	spec := specFor(t, "sh", "-c", "echo > "+marker)
	want := errors.New("no cgroup for you")
	var pid int
	p, err = l.start(spec, Stdio{}, func(p *Process) error {
		pid = p.Pid
		return want
	}, nil, false)
	if err != want || p != nil {
		t.Fatalf("start = %v, %v; want nil, the error of during", p, err)
	}
	if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
		t.Errorf("stage %d still exists after the aborted launch (kill: %v)", pid, err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the target ran although during failed")
	}
}

// A warm stage without a keeper has dropped its read-only file mappings'
// pages while idle: what an exec then tears down is a fraction of what its
// runtime's start touched.
//
// Only a stage without a keeper trims (with one, the keeper frees the
// memory after the exec): one in a new PID namespace has none.
func TestIdleStageTrimmedItsMappings(t *testing.T) {
	needRoot(t)
	// The stage of a PID namespace has no keeper and trims; the one
	// without a namespace has a keeper (amd64) and does not: the baseline,
	// measured in the same run, under the same load.
	l := goStageLauncher(1, Isolation{Namespaces: config.Namespaces{PID: true}})
	defer l.Close()
	trimmed := idleFileKB(t, l)
	if runtime.GOARCH != "amd64" {
		// Every stage trims where there is no keeper.
		if trimmed > 1536 {
			t.Fatalf("an idle stage has %d kB of read-only file pages mapped, want at most 1536", trimmed)
		}
		return
	}
	b := goStageLauncher(1, Isolation{})
	defer b.Close()
	untrimmed := idleFileKB(t, b)
	// Untrimmed, the runtime's start leaves 2.5 to 4 MB of them mapped
	// (1.6 MB of this binary's read-only data alone); trimmed, what the
	// stage touched since (its idle path, the runtime's monitor) is about
	// 0.8 MB, more on a loaded machine.
	t.Logf("idle stage's read-only file pages: %d kB trimmed, %d kB untrimmed", trimmed, untrimmed)
	if trimmed+512 > untrimmed {
		t.Fatalf("an idle stage that trimmed has %d kB of read-only file pages mapped, one that did not %d kB: want at least 512 kB less", trimmed, untrimmed)
	}
}

// idleFileKB is the resident size of the read-only file mappings of l's
// idle stage.
func idleFileKB(t *testing.T, l *Launcher) int {
	t.Helper()
	pid := idlePids(t, l)[0]
	idleInRecv(t, pid)
	smaps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps")
	if err != nil {
		t.Fatal(err)
	}
	var fileKB, mappings int
	readOnlyFile := false
	for _, line := range strings.Split(string(smaps), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && len(f[1]) == 4 {
			readOnlyFile = f[1][1] != 'w' && len(f) >= 6 && strings.HasPrefix(f[5], "/")
			continue
		}
		if readOnlyFile && len(f) >= 2 && f[0] == "Rss:" {
			kb, _ := strconv.Atoi(f[1])
			fileKB += kb
			mappings++
		}
	}
	if mappings == 0 {
		t.Fatal("no read-only file mapping found in the stage's smaps")
	}
	return fileKB
}

// A warm stage killed just as a launch takes it (its threads still exiting,
// its socket still open, so the launch is sent to it) never received the
// launch: the launch goes to another stage, and nothing fails. The kill
// lands at every point of the hand-over across the rounds.
func TestStageKilledWhileTakenIsReplaced(t *testing.T) {
	l := NewLauncher(LauncherOptions{Stage: StageGo})
	defer l.Close()
	for i := 0; i < 20; i++ {
		idle := idlePids(t, l)
		if err := syscall.Kill(idle[0], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		out, st, err := tryRun(l, specFor(t, "env"))
		if err != nil || out != "A=1\n" || st.ExitCode == nil || *st.ExitCode != 0 {
			t.Fatalf("round %d: output %q, exit %v, error %v", i, out, st, err)
		}
	}
}
