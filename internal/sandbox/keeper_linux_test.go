//go:build linux

package sandbox

import (
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

func needKeeper(t *testing.T) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("no keeper on %s (the stage's keeper is amd64 assembly)", runtime.GOARCH)
	}
}

// procStat returns a process's state, ppid and process group from
// /proc/PID/stat ("" state: gone).
func procStat(pid int) (state string, ppid, pgid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	ppid, _ = strconv.Atoi(f[1])
	pgid, _ = strconv.Atoi(f[2])
	return f[0], ppid, pgid
}

// idleKeeper returns the keeper pid of l's oldest idle stage.
func idleKeeper(t *testing.T, l *Launcher) (stagePid, keeperPid int) {
	t.Helper()
	idlePids(t, l)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.idle[0]
	if !s.keeps.known || s.keeps.keeper == nil {
		t.Fatalf("stage %d reported no keeper", s.proc.Pid)
	}
	return s.proc.Pid, s.keeps.keeper.Pid
}

// A warm stage has a keeper: a child of the server in the stage's process
// group, sharing the stage's memory, holding no descriptor and blocking
// every signal. The exec of the target releases it, and by the time Wait
// returns it is reaped.
func TestKeeperHoldsTheStageMemoryUntilTheExec(t *testing.T) {
	needKeeper(t)
	l := goStageLauncher(1, Isolation{})
	defer l.Close()
	spid, kpid := idleKeeper(t, l)
	idleInRecv(t, spid)
	state, ppid, pgid := procStat(kpid)
	if state == "" || state == "Z" || ppid != os.Getpid() || pgid != spid {
		t.Fatalf("keeper %d: state %q, parent %d, group %d; want alive, a child of %d in the stage's group %d",
			kpid, state, ppid, pgid, os.Getpid(), spid)
	}
	if fds, err := os.ReadDir("/proc/" + strconv.Itoa(kpid) + "/fd"); err != nil || len(fds) != 0 {
		t.Fatalf("keeper %d holds descriptors %v (%v)", kpid, fds, err)
	}
	// Every signal but SIGKILL and SIGSTOP (which cannot be blocked).
	status, err := os.ReadFile("/proc/" + strconv.Itoa(kpid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if got := statusField(t, string(status), "SigBlk"); got != "fffffffffffbfeff" {
		t.Fatalf("keeper %d blocks %s, want every signal (fffffffffffbfeff)", kpid, got)
	}
	smaps, _ := os.ReadFile("/proc/" + strconv.Itoa(spid) + "/maps")
	kmaps, _ := os.ReadFile("/proc/" + strconv.Itoa(kpid) + "/maps")
	if len(smaps) == 0 || string(smaps) != string(kmaps) {
		t.Fatal("the keeper does not share the stage's memory (their maps differ)")
	}

	p, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Pid != spid {
		t.Fatalf("the launch got stage %d, not the idle %d", p.Pid, spid)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("exit %v", st)
	}
	if state, _, _ := procStat(kpid); state != "" {
		t.Fatalf("keeper %d is %q after the launch was reaped, want gone", kpid, state)
	}
}

// A stopped keeper (the target can stop its own process group, which the
// keeper is in) does not hold Wait up: it is killed with what is left of
// the group once the target is reaped.
func TestStoppedKeeperDoesNotHoldWait(t *testing.T) {
	needKeeper(t)
	l := goStageLauncher(1, Isolation{})
	defer l.Close()
	_, kpid := idleKeeper(t, l)
	p, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(kpid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	done := make(chan ExitState)
	go func() { done <- p.Wait() }()
	select {
	case st := <-done:
		if st.ExitCode == nil || *st.ExitCode != 0 {
			t.Fatalf("exit %v", st)
		}
	case <-time.After(10 * time.Second):
		syscall.Kill(kpid, syscall.SIGKILL)
		t.Fatal("Wait did not return with the keeper stopped")
	}
	if state, _, _ := procStat(kpid); state != "" {
		t.Fatalf("keeper %d is %q after Wait, want gone", kpid, state)
	}
}

// When an idle stage dies, its keeper (woken by the kernel as the stage's
// memory is released) exits by itself; it is reaped with the stage.
func TestKeeperEndsWithItsStage(t *testing.T) {
	needKeeper(t)
	l := goStageLauncher(1, Isolation{})
	defer l.Close()
	spid, kpid := idleKeeper(t, l)
	if err := syscall.Kill(spid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if state, _, _ := procStat(kpid); state == "Z" || state == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keeper %d still runs after its stage %d died", kpid, spid)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The next launch skips the dead stage and reaps both.
	if out, st := run(t, l, specFor(t, "env")); out != "A=1\n" || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("output %q, exit %v", out, st)
	}
	for _, pid := range []int{spid, kpid} {
		if state, _, _ := procStat(pid); state != "" {
			t.Errorf("process %d is %q, want reaped", pid, state)
		}
	}
}

// A stage in a new PID namespace is that namespace's init, which cannot
// create a sibling: it reports no keeper, and its launches work as ever.
func TestNoKeeperInAPIDNamespace(t *testing.T) {
	needRoot(t)
	l := goStageLauncher(1, Isolation{Namespaces: config.Namespaces{PID: true}})
	defer l.Close()
	idlePids(t, l)
	l.mu.Lock()
	k := l.idle[0].keeps
	l.mu.Unlock()
	if !k.known || k.keeper != nil {
		t.Fatalf("keeper state %+v, want known and none", k)
	}
	if out, st := runAll(t, l, specFor(t, "sh", "-c", "echo $$")); out != "1\n" || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("output %q, exit %v", out, st)
	}
}

// The target cannot trace its stage's keeper nor read its memory (which
// holds what the stage received, the launch's environment included): the
// keeper has the capabilities the stage had before the launch's were
// dropped, and the target's are not a superset of them. The keeper is
// stopped before the exec so that it is still there for the attempt; the
// baseline, from the test (root with every capability), reads the memory.
func TestTargetCannotTraceOrReadItsKeeper(t *testing.T) {
	needRoot(t)
	needKeeper(t)
	l := goStageLauncher(1, Isolation{})
	defer l.Close()
	_, kpid := idleKeeper(t, l)
	code := `
import ctypes, os, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
r = libc.ptrace(16, pid, 0, 0)  # PTRACE_ATTACH
print("ptrace", "ok" if r == 0 else os.strerror(ctypes.get_errno()))
try:
    with open("/proc/%d/mem" % pid, "rb") as f:
        print("mem", "ok")
except OSError as e:
    print("mem", e.strerror)
`
	spec := py(t, code)
	spec.Argv = append(spec.Argv, strconv.Itoa(kpid))
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := l.Start(spec, Stdio{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(kpid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Baseline: with the capabilities the target lacks, the memory opens.
	if f, err := os.Open("/proc/" + strconv.Itoa(kpid) + "/mem"); err != nil {
		t.Fatalf("baseline: the test cannot open the keeper's memory either: %v", err)
	} else {
		f.Close()
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := io.ReadFull(r, buf)
	out := string(buf[:n])
	p.Wait()
	if out != "ptrace Operation not permitted\nmem Permission denied\n" {
		t.Fatalf("the target's attempts on its keeper %d: %q, want both refused (EPERM, EACCES)", kpid, out)
	}
}

// A stage that died before it reported its keeper: the keeper is found
// among this process's children by the stage's process group (which the
// unreaped stage still pins), and reaped. Simulated with two sleeps, the
// "stage" leading the group and the "keeper" in it.
func TestUnreportedKeeperIsFoundAndReaped(t *testing.T) {
	st := exec.Command("sleep", "30")
	st.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := st.Start(); err != nil {
		t.Fatal(err)
	}
	kp := exec.Command("sleep", "30")
	kp.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: st.Process.Pid}
	if err := kp.Start(); err != nil {
		st.Process.Kill()
		st.Wait()
		t.Fatal(err)
	}
	st.Process.Kill()
	exited(st.Process.Pid)
	var k keeperState
	k.find(st.Process.Pid)
	st.Wait()
	if k.keeper == nil || k.keeper.Pid != kp.Process.Pid {
		kp.Process.Kill()
		kp.Wait()
		t.Fatalf("found keeper %v, want pid %d", k.keeper, kp.Process.Pid)
	}
	k.reap()
	if state, _, _ := procStat(kp.Process.Pid); state != "" {
		t.Fatalf("the keeper is %q after reap, want gone", state)
	}
}
