//go:build linux && (amd64 || arm64)

package stage

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// deferSetup points the zygote's socket at one end of a socket pair and
// lastChild at a child that runs until its stdin closes; it returns the
// pair's other end, the child and its stdin.
func deferSetup(t *testing.T) (peer int, child *exec.Cmd, stdin *os.File) {
	t.Helper()
	if fd, err := unix.PidfdOpen(os.Getpid(), 0); err != nil {
		t.Skipf("no pidfd_open here (%v): the zygote prepares at once", err)
	} else {
		unix.Close(fd)
	}
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	oldSock, oldWait := sock, prepareWaitMax
	sock = sp[0]
	t.Cleanup(func() {
		sock, prepareWaitMax, lastChild = oldSock, oldWait, 0
		unix.Close(sp[0])
		unix.Close(sp[1])
	})
	child = exec.Command("/bin/sh", "-c", "read x")
	w, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); child.Process.Kill(); child.Wait() })
	lastChild = child.Process.Pid
	return sp[1], child, w.(*os.File)
}

// ended reports whether pid has exited (not reaped: WNOWAIT).
func ended(t *testing.T, pid int) bool {
	t.Helper()
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil); err != nil {
		t.Fatal(err)
	}
	return info.Signo != 0
}

// fdCount counts this process's open descriptors (openFDs).
func fdCount(t *testing.T) int {
	t.Helper()
	fds, e := openFDs()
	if e != 0 {
		t.Fatalf("list the open descriptors: errno %d", e)
	}
	return len(fds)
}

// The preparation waits for the child's end: awaitChildEnd returns only
// once the child has exited, when that comes first, and keeps no
// descriptor. The child ends by itself: the test's goroutine is in a raw
// call meanwhile, which no other goroutine of the test may need.
func TestPrepareWaitsForTheChildsEnd(t *testing.T) {
	deferSetup(t)
	prepareWaitMax = int64(30 * time.Second)
	child := exec.Command("/bin/sleep", "0.1")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	lastChild = child.Process.Pid
	before := fdCount(t)
	start := time.Now()
	awaitChildEnd()
	if !ended(t, child.Process.Pid) {
		t.Fatalf("awaitChildEnd returned after %v, while the child still ran", time.Since(start))
	}
	if lastChild != 0 {
		t.Fatalf("lastChild = %d after the wait, want 0", lastChild)
	}
	if after := fdCount(t); after != before {
		t.Fatalf("%d descriptors open after the wait, %d before: the pidfd leaked", after, before)
	}
}

// A launch on the socket ends the wait at once: the preparation is made
// before the zygote reads it, as without the wait.
func TestPrepareWaitEndsAtALaunch(t *testing.T) {
	peer, child, _ := deferSetup(t)
	prepareWaitMax = int64(30 * time.Second)
	if _, err := unix.Write(peer, []byte{1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	awaitChildEnd()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("awaitChildEnd took %v with a launch on the socket", d)
	}
	if ended(t, child.Process.Pid) {
		t.Fatal("the child ended: the test proves nothing")
	}
}

// A child that runs on delays the preparation by prepareWaitMax at most.
func TestPrepareWaitIsBounded(t *testing.T) {
	_, child, _ := deferSetup(t)
	prepareWaitMax = int64(50 * time.Millisecond)
	start := time.Now()
	awaitChildEnd()
	d := time.Since(start)
	if d < 50*time.Millisecond || d > 10*time.Second {
		t.Fatalf("awaitChildEnd took %v, want prepareWaitMax (50ms)", d)
	}
	if ended(t, child.Process.Pid) {
		t.Fatal("the child ended: the test proves nothing")
	}
}

// Without a child (a fallback, a failed launch) there is no wait.
func TestPrepareWaitWithoutChild(t *testing.T) {
	deferSetup(t)
	prepareWaitMax = int64(30 * time.Second)
	lastChild = 0
	start := time.Now()
	awaitChildEnd()
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("awaitChildEnd waited %v without a child", d)
	}
}
