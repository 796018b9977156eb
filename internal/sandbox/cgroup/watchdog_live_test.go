//go:build linux

package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startSleeper starts a sleep in a session of its own, killed at cleanup.
func startSleeper(t *testing.T) *exec.Cmd {
	t.Helper()
	c := exec.Command("/bin/sleep", "300")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	t.Cleanup(func() { c.Process.Kill(); <-done })
	return c
}

// deadPid returns a pid that no process has (the one of a child that was
// reaped; it could be reused, which the test checks for).
func deadPid(t *testing.T) int {
	t.Helper()
	c := exec.Command("/bin/true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// gone says whether pid no longer runs (no process, or a zombie).
func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(f) > 0 && (f[0] == "Z" || f[0] == "X")
}

// A new server removes the groups of every dead server next to its own
// (killing what is in them), whatever their pid, and leaves those of a
// live server alone, as well as names it did not make.
func TestLiveSweepRemovesDeadServersGroupsOnly(t *testing.T) {
	probe := liveManager(t)
	var owns []string
	for _, h := range probe.hs {
		owns = append(owns, h.own)
	}
	liveProc := startSleeper(t) // stands for a live server
	liveStart, gone0, err := procStart(liveProc.Process.Pid)
	if err != nil || gone0 {
		t.Fatalf("start time of %d: %v", liveProc.Process.Pid, err)
	}
	dead := deadPid(t)
	groups := map[string]*exec.Cmd{ // name -> a process inside it
		ServerPrefix(dead, 4242):                        startSleeper(t), // dead server
		ServerPrefix(liveProc.Process.Pid, liveStart+1): startSleeper(t), // its pid reused since
		ownerPrefix + strconv.Itoa(dead+1000000):        startSleeper(t), // legacy name, pid gone
		ServerPrefix(liveProc.Process.Pid, liveStart):   startSleeper(t), // live server
		"mcp-process-test-notours":                      startSleeper(t), // not a server's name
	}
	wantGone := []string{ServerPrefix(dead, 4242), ServerPrefix(liveProc.Process.Pid, liveStart+1), ownerPrefix + strconv.Itoa(dead+1000000)}
	for name, c := range groups {
		for _, own := range owns {
			leaf := path.Join(own, name, "p-1-1")
			if err := os.MkdirAll(leaf, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sysOps.killTree(path.Join(own, name)) })
			if err := writeCtl(leaf+"/cgroup.procs", strconv.Itoa(c.Process.Pid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !gone(dead) {
		t.Skipf("pid %d was reused meanwhile", dead)
	}

	m, err := Detect(DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	t.Logf("swept: %v", m.Swept())
	for name, c := range groups {
		removed := slices.Contains(wantGone, name)
		for _, own := range owns {
			dir := path.Join(own, name)
			_, serr := os.Stat(dir)
			if removed != errors.Is(serr, os.ErrNotExist) {
				t.Errorf("%s: removed = %v, want %v", dir, !removed, removed)
			}
			if removed && !slices.Contains(m.Swept(), dir) {
				// Another server starting at the same moment (a parallel
				// test binary) sweeps dead servers' groups too: gone is
				// what counts, whoever removed it.
				t.Logf("%s was removed by another sweep than this manager's", dir)
			}
		}
		deadline := time.Now().Add(2 * time.Second)
		for removed && !gone(c.Process.Pid) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if gone(c.Process.Pid) != removed {
			t.Errorf("%s: its process gone = %v, want %v", name, gone(c.Process.Pid), removed)
		}
	}
}

// The watchdog helper: a "server" (this test binary) that starts the
// watchdog, puts a sleeper that left its session into a launch group,
// prints "SLEEPER WATCHDOG PARENTS..." and waits to be killed.
func TestWatchdogHelperServer(t *testing.T) {
	if os.Getenv("CGROUP_WATCHDOG_HELPER") != "1" {
		t.Skip("helper process for TestLiveWatchdogKillsTreeWhenServerDies")
	}
	m, err := Detect(DetectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.StartWatchdog(); err != nil {
		t.Fatal(err)
	}
	g, err := m.New("p-1-1", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	c := exec.Command("/bin/sleep", "300")
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Join(c.Process.Pid); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%d %d %s\n", c.Process.Pid, m.WatchdogPid(), strings.Join(m.Parents(), " "))
	time.Sleep(time.Hour)
}

// SIGKILL of a server kills what it started, a process that left the
// server's session included (measured: well within a second; the test
// allows 2 s), and its groups are removed:
// the watchdog. Baseline: the same with the watchdog killed first leaves
// the process running.
func TestLiveWatchdogKillsTreeWhenServerDies(t *testing.T) {
	liveManager(t) // skips without root or cgroups
	for _, withWatchdog := range []bool{true, false} {
		t.Run(fmt.Sprintf("watchdog=%v", withWatchdog), func(t *testing.T) {
			c := exec.Command(os.Args[0], "-test.run=^TestWatchdogHelperServer$")
			c.Env = append(os.Environ(), "CGROUP_WATCHDOG_HELPER=1")
			c.Stderr = os.Stderr
			out, err := c.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			defer c.Wait()
			defer c.Process.Kill()
			line, err := bufio.NewReader(out).ReadString('\n')
			f := strings.Fields(line)
			if err != nil || len(f) < 3 {
				t.Fatalf("helper said %q: %v", line, err)
			}
			sleeper, _ := strconv.Atoi(f[0])
			wd, _ := strconv.Atoi(f[1])
			parents := f[2:]
			defer syscall.Kill(sleeper, syscall.SIGKILL)
			if wd <= 0 || gone(wd) {
				t.Fatalf("no watchdog running (pid %d)", wd)
			}
			if !withWatchdog {
				// Stopped, the helper cannot replace its watchdog.
				syscall.Kill(c.Process.Pid, syscall.SIGSTOP)
				syscall.Kill(wd, syscall.SIGKILL)
				defer func() {
					for _, p := range parents {
						sysOps.killTree(p)
					}
				}()
			}
			killed := time.Now()
			c.Process.Kill()
			deadline := killed.Add(2 * time.Second)
			for !gone(sleeper) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			took := time.Since(killed)
			if !withWatchdog {
				if gone(sleeper) {
					t.Fatalf("baseline: the sleeper died without the watchdog (%v): the test shows nothing", took)
				}
				t.Logf("baseline without the watchdog: the sleeper %d still runs %v after the server's SIGKILL", sleeper, took)
				return
			}
			if !gone(sleeper) {
				t.Fatalf("the sleeper %d still runs %v after the server's SIGKILL", sleeper, took)
			}
			t.Logf("the sleeper %d was gone %v after the server's SIGKILL", sleeper, took)
			for !gone(wd) && time.Now().Before(deadline.Add(3*time.Second)) {
				time.Sleep(5 * time.Millisecond)
			}
			if !gone(wd) {
				t.Errorf("the watchdog %d did not exit", wd)
			}
			for _, p := range parents {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s still exists after the watchdog exited (%v)", p, err)
				}
			}
		})
	}
}

// A watchdog killed while the server lives is replaced, and the new one
// exits with the server's Close.
func TestLiveWatchdogReplacedWhenKilled(t *testing.T) {
	m := liveManager(t)
	if err := m.StartWatchdog(); err != nil {
		t.Fatal(err)
	}
	first := m.WatchdogPid()
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (m.WatchdogPid() == first || gone(m.WatchdogPid())) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	second := m.WatchdogPid()
	if second == first || gone(second) {
		t.Fatalf("the killed watchdog %d was not replaced (pid now %d)", first, second)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(second) {
		t.Errorf("the watchdog %d still runs after Close", second)
	}
}
