//go:build linux

package stage

import (
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInstallCapture installs the capture in a fresh network namespace
// (of a locked thread that is then thrown away) and checks that the
// kernel took every message of the batch and the route; the same route
// again fails (EEXIST), so the acknowledgements are read for real.
func TestInstallCapture(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (sandbox tests cover an unprivileged server)")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with its namespace
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			return
		}
		if err := raiseLoopback(&Config{Flags: FlagLoopback}); err != nil {
			t.Error(err)
			return
		}
		start := time.Now()
		if e := netlinkDo(netlinkNetfilter, captureBatch()); e != 0 {
			t.Errorf("nftables: errno %d (%v)", e, unix.Errno(e))
			return
		}
		t.Logf("rules in %v", time.Since(start))
		start = time.Now()
		if e := netlinkDo(netlinkRoute, defaultRouteMsg()); e != 0 {
			t.Errorf("route: errno %d (%v)", e, unix.Errno(e))
			return
		}
		t.Logf("route in %v", time.Since(start))
		if e := netlinkDo(netlinkRoute, defaultRouteMsg()); e != uintptr(unix.EEXIST) {
			t.Errorf("the same route again: errno %d, want EEXIST", e)
		}
	}()
	<-done
}
