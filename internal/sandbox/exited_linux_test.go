package sandbox

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// osThreads is this process's thread count (/proc/self/status).
func osThreads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	_, v, _ := bytes.Cut(b, []byte("\nThreads:"))
	v, _, _ = bytes.Cut(v, []byte("\n"))
	n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
	if err != nil {
		t.Fatalf("Threads in /proc/self/status: %q", v)
	}
	return n
}

// exited returns once each child has exited and not before, leaves it
// unreaped (a zombie the caller reaps), and holds no thread while the
// children run: thirty waits for thirty running children add no thirty
// threads blocked in waitid.
func TestExitedWaitsInThePoller(t *testing.T) {
	if _, err := unix.PidfdOpen(os.Getpid(), unix.PIDFD_NONBLOCK); err != nil {
		t.Skipf("no pidfd_open with PIDFD_NONBLOCK here: %v", err)
	}
	const n = 30
	var cmds []*exec.Cmd
	start := time.Now()
	for range n {
		cmd := exec.Command("sleep", "1")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	before := osThreads(t)
	var wg sync.WaitGroup
	done := make([]time.Time, n)
	for i, cmd := range cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			exited(cmd.Process.Pid)
			done[i] = time.Now()
		}()
	}
	time.Sleep(300 * time.Millisecond) // every wait started; the children still sleep
	if during := osThreads(t); during-before >= n/2 {
		t.Errorf("%d threads while %d waits run (%d before): threads held in waitid", during, n, before)
	}
	wg.Wait()
	for i, cmd := range cmds {
		var info unix.Siginfo
		if err := unix.Waitid(unix.P_PID, cmd.Process.Pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil || info.Signo == 0 {
			t.Errorf("child %d after exited: not a zombie waiting to be reaped (%v, signo %d)", i, err, info.Signo)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("child %d: %v", i, err)
		}
		if st := cmd.ProcessState; st == nil || st.ExitCode() != 0 || done[i].Sub(start) < 900*time.Millisecond {
			t.Errorf("child %d: %v, exited returned after %v (it sleeps 1 s)", i, st, done[i].Sub(start))
		}
	}
}
