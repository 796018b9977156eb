//go:build linux

package escape

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The network layer (SPEC 3.11, 7.5): blockNetworkAccess, and the empty
// namespace of allowedNetworkDestinations, whose only way out is the
// server's egress proxy.
var (
	blockNet = layer{"blockNetworkAccess": true}
	allowNet = layer{"allowedNetworkDestinations": []string{"registry.npmjs.org"}}
)

// hostUDP is a UDP listener on the host's loopback that answers "host"
// and counts the datagrams it received.
func hostUDP(t *testing.T) (addr string, received func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		b := make([]byte, 512)
		for {
			_, from, err := pc.ReadFrom(b)
			if err != nil {
				return
			}
			n.Add(1)
			pc.WriteTo([]byte("host"), from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String(), func() int { return int(n.Load()) }
}

// icmpWatch watches the host's ICMP (a raw socket in the host's network
// namespace: the test runs as root) for an echo request carrying token.
func icmpWatch(t *testing.T, token string) (seen func(wait time.Duration) bool) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		t.Fatalf("a raw ICMP socket on the host (the test runs as root): %v", err)
	}
	f := os.NewFile(uintptr(fd), "icmp")
	t.Cleanup(func() { f.Close() })
	return func(wait time.Duration) bool {
		deadline := time.Now().Add(wait)
		b := make([]byte, 2048)
		for time.Now().Before(deadline) {
			tv := unix.NsecToTimeval(int64(time.Until(deadline)) + 1)
			unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			n, _, err := unix.Recvfrom(fd, b, 0)
			if err != nil {
				if err == unix.EINTR {
					continue
				}
				return false
			}
			if bytes.Contains(b[:n], []byte(token)) {
				return true
			}
		}
		return false
	}
}

// attackEgress is attack for the allowlist configs (the launch is served
// by the server's egress proxy).
func (e *testEnv) attackEgress(t *testing.T, cfg map[string]any, args ...string) result {
	t.Helper()
	return e.attack(t, cfg, probeBin, args...)
}

func TestEscape_ConnectHostLoopback_blockNetworkAccess(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	addr, _, accepted := hostListener(t)
	r := e.attack(t, e.config(blockNet), probeBin, "socket-connect", addr)
	stopped(t, r, "", "blockNetworkAccess: an empty network namespace")
	if r.Errno != "EACCES" && r.Errno != "ECONNREFUSED" {
		t.Fatalf("errno %q, want EACCES (Landlock) or ECONNREFUSED (the namespace's own loopback): %s", r.Errno, r)
	}
	if n := accepted(); n != 0 {
		t.Fatalf("ESCAPE: the host listener accepted %d connection(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "socket-connect", addr), "blockNetworkAccess")
}

func TestEscape_UDPHostLoopback_blockNetworkAccess(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	addr, received := hostUDP(t)
	r := e.attack(t, e.config(blockNet), probeBin, "udp-exchange", addr)
	stopped(t, r, "", "blockNetworkAccess: the datagram stays in the namespace's own loopback")
	if n := received(); n != 0 {
		t.Fatalf("ESCAPE: the host's UDP listener received %d datagram(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "udp-exchange", addr), "blockNetworkAccess")
}

// A raw socket needs CAP_NET_RAW, which the child keeps here so that only
// the namespace stops the packet: the host never sees it.
func TestEscape_RawICMPHostLoopback_blockNetworkAccess(t *testing.T) {
	rootServerOnly(t, "keepCapabilities CAP_NET_RAW needs a root server; an unprivileged server's children have no raw sockets at all")
	e := newEnv(t)
	token := fmt.Sprintf("mcp-escape-%d-block", os.Getpid())
	seen := icmpWatch(t, token)
	r := e.attack(t, e.config(blockNet, keep("CAP_NET_RAW")), probeBin, "icmp-raw", "127.0.0.1", token)
	if seen(time.Second) {
		t.Fatalf("ESCAPE: the host saw the child's ICMP echo (%s)", r)
	}
	t.Logf("stopped by blockNetworkAccess: the host saw no ICMP from the child (%s)", r)
	token += "-baseline"
	seen = icmpWatch(t, token)
	r = e.attack(t, e.config(keep("CAP_NET_RAW")), probeBin, "icmp-raw", "127.0.0.1", token)
	if !r.OK || !seen(3*time.Second) {
		t.Fatalf("baseline without blockNetworkAccess: the host should see the child's ICMP echo: %s", r)
	}
	t.Logf("baseline without blockNetworkAccess: the host saw it: %s", r)
}

func TestEscape_ConnectHostLoopback_egressNamespace(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	addr, _, accepted := hostListener(t)
	r := e.attackEgress(t, e.config(allowNet), "socket-connect", addr)
	stopped(t, r, "", "allowedNetworkDestinations: an empty namespace, its own loopback (only the proxy reaches out)")
	if n := accepted(); n != 0 {
		t.Fatalf("ESCAPE: the host listener accepted %d connection(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "socket-connect", addr), "allowedNetworkDestinations")
}

func TestEscape_UDPHostLoopback_egressNamespace(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	addr, received := hostUDP(t)
	r := e.attackEgress(t, e.config(allowNet), "udp-exchange", addr)
	stopped(t, r, "", "allowedNetworkDestinations: the datagram stays in the namespace")
	if n := received(); n != 0 {
		t.Fatalf("ESCAPE: the host's UDP listener received %d datagram(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "udp-exchange", addr), "allowedNetworkDestinations")
}

func TestEscape_RawICMPHostLoopback_egressNamespace(t *testing.T) {
	rootServerOnly(t, "keepCapabilities CAP_NET_RAW needs a root server; an unprivileged server's children have no raw sockets at all")
	e := newEnv(t)
	token := fmt.Sprintf("mcp-escape-%d-egress", os.Getpid())
	seen := icmpWatch(t, token)
	r := e.attackEgress(t, e.config(allowNet, keep("CAP_NET_RAW")), "icmp-raw", "127.0.0.1", token)
	if seen(time.Second) {
		t.Fatalf("ESCAPE: the host saw the child's ICMP echo (%s)", r)
	}
	t.Logf("stopped by allowedNetworkDestinations: the host saw no ICMP from the child (%s)", r)
	token += "-baseline"
	seen = icmpWatch(t, token)
	r = e.attack(t, e.config(keep("CAP_NET_RAW")), probeBin, "icmp-raw", "127.0.0.1", token)
	if !r.OK || !seen(3*time.Second) {
		t.Fatalf("baseline without allowedNetworkDestinations: the host should see the child's ICMP echo: %s", r)
	}
	t.Logf("baseline without allowedNetworkDestinations: the host saw it: %s", r)
}
