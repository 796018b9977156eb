package supervisor

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func nonblocking(t *testing.T, fd uintptr) bool {
	t.Helper()
	fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fl&unix.O_NONBLOCK != 0
}

// inPoller says whether fd is watched by an epoll instance of this process
// (the runtime's poller): /proc/self/fdinfo of each eventpoll descriptor
// lists the descriptors it watches as "tfd: N".
func inPoller(t *testing.T, fd uintptr) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	polls := 0
	for _, e := range ents {
		if l, _ := os.Readlink("/proc/self/fd/" + e.Name()); l != "anon_inode:[eventpoll]" {
			continue
		}
		polls++
		info, _ := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, fmt.Sprintf("tfd: %8d ", fd)) {
				return true
			}
		}
	}
	if polls == 0 {
		t.Fatal("no epoll instance in this process")
	}
	return false
}

// The child's end of a stdio pipe is blocking (what a child expects on its
// stdio) and the server's is non-blocking; bytes go through either way and
// the server's reader sees EOF once the child's end is closed.
func TestStdioPipeEnds(t *testing.T) {
	for _, oursReads := range []bool{true, false} {
		ours, theirs, err := stdioPipe(oursReads)
		if err != nil {
			t.Fatal(err)
		}
		// Not in the poller: it is only passed to the child and closed.
		if inPoller(t, theirs.Fd()) {
			t.Errorf("oursReads=%v: the child's end is in the runtime's poller", oursReads)
		}
		if !inPoller(t, ours.Fd()) {
			t.Errorf("oursReads=%v: the server's end is not in the runtime's poller", oursReads)
		}
		if !nonblocking(t, ours.Fd()) {
			t.Errorf("oursReads=%v: the server's end is blocking", oursReads)
		}
		if nonblocking(t, theirs.Fd()) {
			t.Errorf("oursReads=%v: the child's end is non-blocking", oursReads)
		}
		fl, _ := unix.FcntlInt(theirs.Fd(), unix.F_GETFD, 0)
		if fl&unix.FD_CLOEXEC == 0 {
			t.Errorf("oursReads=%v: the child's end is not close-on-exec", oursReads)
		}
		w, r := ours, theirs
		if oursReads {
			w, r = theirs, ours
		}
		if _, err := w.Write([]byte("hi\n")); err != nil {
			t.Fatal(err)
		}
		w.Close()
		got, err := io.ReadAll(r)
		if err != nil || string(got) != "hi\n" {
			t.Errorf("oursReads=%v: read %q, %v; want \"hi\\n\" then EOF", oursReads, got, err)
		}
		r.Close()
	}
}
