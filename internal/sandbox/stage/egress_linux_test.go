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

// restrictNet's Landlock rules, on a locked thread that is then thrown
// away (Landlock and no_new_privs hold for that thread only): under
// FlagNoConnect no TCP connect at all; under FlagEgress without the
// capture, only the proxy ports (and 53); with the capture, none refused.
// Each connect goes to the thread's own empty namespace: a port Landlock
// allows answers ECONNREFUSED, one it refuses EACCES.
func TestRestrictNet(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a network namespace of the test's own)")
	}
	if abi, e := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0); e != 0 || abi < 4 {
		t.Skip("no Landlock TCP rules here (ABI < 4)")
	}
	for _, tc := range []struct {
		name     string
		flags    uint32
		captured bool
		refused  []int // ports refused with EACCES
		allowed  []int // ports that get as far as ECONNREFUSED
	}{
		{"block", FlagNoConnect, false, []int{EgressHTTPPort, EgressSOCKSPort, 53, 80, 8080}, nil},
		{"egress without capture", FlagEgress, false, []int{80, 443, EgressTransparentPort}, []int{EgressHTTPPort, EgressSOCKSPort, 53}},
		{"egress with capture", FlagEgress, true, nil, []int{80, 443, EgressHTTPPort}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			go func() {
				defer close(done)
				runtime.LockOSThread() // never unlocked: the thread dies with its domain
				if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
					t.Error(err)
					return
				}
				if err := raiseLoopback(&Config{Flags: FlagLoopback}); err != nil {
					t.Error(err)
					return
				}
				if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
					t.Error(err)
					return
				}
				egressCaptured = tc.captured
				defer func() { egressCaptured = false }()
				if err := restrictNet(&Config{Flags: tc.flags}); err != nil {
					t.Error(err)
					return
				}
				try := func(port int) error {
					fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
					if err != nil {
						return err
					}
					defer unix.Close(fd)
					return unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
				}
				for _, p := range tc.refused {
					if err := try(p); err != unix.EACCES {
						t.Errorf("connect to port %d: %v, want EACCES", p, err)
					}
				}
				for _, p := range tc.allowed {
					if err := try(p); err != unix.ECONNREFUSED {
						t.Errorf("connect to port %d: %v, want ECONNREFUSED (allowed, nobody listening)", p, err)
					}
				}
			}()
			<-done
		})
	}
}
