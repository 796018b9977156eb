//go:build linux

package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// needNetNS skips where this process cannot give its children a network
// namespace: not root, and no user namespace of their own. (Run the test
// binary as an unprivileged user to test an unprivileged server's path.)
func needNetNS(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := selfUserNS(); err != nil {
			t.Skip("needs root or a user namespace for the children: ", err)
		}
	}
}

// hostListeners are a TCP and a UDP listener on the host's loopback that
// answer "host"; the test fails nowhere if nothing reaches them, and
// counts what did.
type hostListeners struct {
	tcp     net.Listener
	udp     net.PacketConn
	mu      sync.Mutex
	reached int
}

func listenHost(t *testing.T) *hostListeners {
	t.Helper()
	h := &hostListeners{}
	var err error
	if h.tcp, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if h.udp, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.tcp.Close(); h.udp.Close() })
	go func() {
		for {
			c, err := h.tcp.Accept()
			if err != nil {
				return
			}
			h.hit()
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	go func() {
		b := make([]byte, 512)
		for {
			_, from, err := h.udp.ReadFrom(b)
			if err != nil {
				return
			}
			h.hit()
			h.udp.WriteTo([]byte("host"), from)
		}
	}()
	return h
}

func (h *hostListeners) hit() { h.mu.Lock(); h.reached++; h.mu.Unlock() }

func (h *hostListeners) hits() int { h.mu.Lock(); defer h.mu.Unlock(); return h.reached }

func (h *hostListeners) ports() (int, int) {
	return h.tcp.Addr().(*net.TCPAddr).Port, h.udp.LocalAddr().(*net.UDPAddr).Port
}

// netProbe is a Python program that tries, from inside the child, the TCP
// and UDP listeners of the host, a raw and an ICMP socket, and a listener
// of its own on its own loopback; one line per try.
const netProbe = `import socket, sys
tcp, udp = int(sys.argv[1]), int(sys.argv[2])
def tryit(name, f):
    try:
        print(name, f())
    except OSError as e:
        print(name, 'failed', e.errno)
def tcp_host():
    c = socket.create_connection(('127.0.0.1', tcp), timeout=3); return c.recv(10).decode().strip()
def udp_host():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b'x', ('127.0.0.1', udp)); return s.recv(10).decode()
def raw():
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).sendto(b'\x08\0\xf7\xff\0\0\0\0', ('10.1.2.3', 0)); return 'sent'
def icmp():
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP).sendto(b'\x08\0\0\0\0\0\0\0', ('10.1.2.3', 0)); return 'sent'
def own():
    s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); socket.create_connection(s.getsockname(), timeout=3); return 'connected'
for name, f in [('tcp-host', tcp_host), ('udp-host', udp_host), ('raw', raw), ('icmp', icmp), ('own-loopback', own)]:
    tryit(name, f)
`

func probeLines(out string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		m[k] = v
	}
	return m
}

// blockNetworkAccess: nothing of the host is reachable, neither TCP nor UDP
// nor ICMP; with Landlock TCP rules not even the child's own loopback
// (connect is refused outright). Baseline: without the key the host's
// listeners answer.
func TestNetworkBlocked(t *testing.T) {
	needNetNS(t)
	h := listenHost(t)
	tcp, udp := h.ports()
	spec := py(t, netProbe)
	spec.Argv = append(spec.Argv, fmt.Sprint(tcp), fmt.Sprint(udp))

	iso, err := IsolationFor(&config.Config{BlockNetworkAccess: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(iso.Layers(), "; "), "network: blocked") {
		t.Errorf("layers %q do not report the blocked network", iso.Layers())
	}
	out, st := isoRun(t, iso, 1, spec)
	exitOK(t, out, st)
	t.Logf("blocked child:\n%s", out)
	got := probeLines(out)
	for _, k := range []string{"tcp-host", "udp-host", "raw", "icmp"} {
		if !strings.HasPrefix(got[k], "failed") {
			t.Errorf("%s from a blocked child: %q, want failed\n%s", k, got[k], out)
		}
	}
	if netRulesSupport() == nil && got["own-loopback"] != "failed 13" {
		t.Errorf("own loopback under Landlock's no-connect: %q, want failed 13 (EACCES)", got["own-loopback"])
	}
	if h.hits() != 0 {
		t.Errorf("the host's listeners were reached %d times", h.hits())
	}

	// Baseline: no network key.
	iso, err = IsolationFor(&config.Config{})
	if err != nil {
		t.Fatal(err)
	}
	out, st = isoRun(t, iso, 0, spec)
	exitOK(t, out, st)
	got = probeLines(out)
	if got["tcp-host"] != "host" || got["udp-host"] != "host" {
		t.Fatalf("baseline: the host's listeners from an unrestricted child: %q", out)
	}
}

// A root server's child keeping CAP_NET_ADMIN or CAP_SYS_ADMIN of the host
// could undo its namespace: refused, unless in a user namespace of its own.
func TestNetworkRefusesHostNetAdmin(t *testing.T) {
	needRoot(t)
	for _, c := range []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"} {
		_, err := IsolationFor(&config.Config{BlockNetworkAccess: true, KeepCapabilities: []string{c}})
		if err == nil || !strings.Contains(err.Error(), "blockNetworkAccess") || !strings.Contains(err.Error(), "LAYER_UNAVAILABLE") {
			t.Errorf("blockNetworkAccess with %s kept: %v, want LAYER_UNAVAILABLE naming the key", c, err)
		}
		cfg := &config.Config{BlockNetworkAccess: true, KeepCapabilities: []string{c}, EnableNamespaces: true}
		cfg.Namespaces.User = true
		if _, err := IsolationFor(cfg); err != nil {
			t.Errorf("with namespaces.user, %s kept: %v", c, err)
		}
	}
	if _, err := IsolationFor(&config.Config{BlockNetworkAccess: true, KeepCapabilities: []string{"CAP_NET_RAW"}}); err != nil {
		t.Errorf("CAP_NET_RAW kept: %v", err)
	}
}

// fakeEgress serves a child's egress listeners: each answers its own name
// (the transparent one with the original destination, the DNS one "dns").
func fakeEgress(t *testing.T, l *EgressListeners) {
	t.Helper()
	serve := func(ln net.Listener, name func(net.Conn) string) {
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte(name(c) + "\n"))
				c.Close()
			}
		}()
	}
	serve(l.HTTP, func(net.Conn) string { return "http" })
	serve(l.SOCKS, func(net.Conn) string { return "socks" })
	serve(l.Transparent, func(c net.Conn) string { return "transparent " + originalDst(c) })
	go func() {
		b := make([]byte, 512)
		for {
			_, from, err := l.DNS.ReadFrom(b)
			if err != nil {
				return
			}
			l.DNS.WriteTo([]byte("dns"), from)
		}
	}()
}

// originalDst is the address a redirected connection was for.
func originalDst(c net.Conn) string {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return err.Error()
	}
	var s string
	rc.Control(func(fd uintptr) {
		m, err := unix.GetsockoptIPv6Mreq(int(fd), unix.SOL_IP, unix.SO_ORIGINAL_DST)
		if err != nil {
			s = err.Error()
			return
		}
		a := m.Multiaddr
		s = fmt.Sprintf("%d.%d.%d.%d:%d", a[4], a[5], a[6], a[7], int(a[2])<<8|int(a[3]))
	})
	return s
}

const egressProbe = `import socket, sys
def tcp(addr):
    try:
        c = socket.create_connection(addr, timeout=3); return c.recv(100).decode().strip()
    except OSError as e:
        return 'failed %s' % e.errno
def udp(addr):
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1); s.sendto(b'x', addr); return s.recv(10).decode()
    except OSError as e:
        return 'failed %s' % e.errno
print('http', tcp(('127.0.0.1', 3128)))
print('socks', tcp(('127.0.0.1', 1080)))
print('anywhere', tcp(('10.1.2.3', 443)))
print('dns-local', udp(('127.0.0.1', 53)))
print('dns-anywhere', udp(('8.8.8.8', 53)))
print('udp-anywhere', udp(('10.1.2.3', 9999)))
print('tcp-host', tcp(('127.0.0.1', int(sys.argv[1]))))
print('udp-host', udp(('127.0.0.1', int(sys.argv[2]))))
print('resolv', open('/etc/resolv.conf').read().replace('\n', '|'))
`

// allowedNetworkDestinations: the stage's listeners arrive; the child
// reaches each of them (the explicit proxies, the transparent capture
// from an arbitrary address, the name server from any address's port 53)
// and nothing else: not the host's listeners, not UDP elsewhere.
func TestNetworkEgressListeners(t *testing.T) {
	needNetNS(t)
	h := listenHost(t)
	tcp, udp := h.ports()
	iso, err := IsolationFor(&config.Config{AllowedNetworkDestinations: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, pool := range []int{0, 1} {
		t.Run(fmt.Sprint("pool", pool), func(t *testing.T) {
			l := testLauncher(pool, iso)
			defer l.Close()
			spec := py(t, egressProbe)
			spec.Argv = append(spec.Argv, fmt.Sprint(tcp), fmt.Sprint(udp))
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
			el, ok := p.Egress()
			if !ok {
				p.Abort()
				t.Fatal("no egress listeners for an allowlist launch")
			}
			fakeEgress(t, el)
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(r)
			out := string(b)
			exitOK(t, out, p.Wait())
			t.Logf("allowlist child (captured %v):\n%s", el.Captured, out)
			got := probeLines(out)
			want := map[string]string{"http": "http", "socks": "socks", "dns-local": "dns"}
			if el.Captured {
				want["anywhere"] = "transparent 10.1.2.3:443"
				want["dns-anywhere"] = "dns"
			} else if captureSupport() == nil {
				t.Errorf("nf_tables is available here but the capture was not installed")
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s: %q, want %q", k, got[k], v)
				}
			}
			for _, k := range []string{"udp-anywhere", "tcp-host", "udp-host"} {
				if !strings.HasPrefix(got[k], "failed") {
					t.Errorf("%s: %q, want failed", k, got[k])
				}
			}
			if !strings.Contains(got["resolv"], "nameserver 127.0.0.1|") {
				t.Errorf("/etc/resolv.conf in the child: %q", got["resolv"])
			}
			if h.hits() != 0 {
				t.Errorf("the host's listeners were reached %d times", h.hits())
			}
			// Closed with the process.
			if _, err := el.HTTP.Accept(); err == nil {
				t.Error("the HTTP listener still accepts after the reap")
			}
		})
	}
}

// BenchmarkNetworkCost measures a launch of /bin/true (Start to reap)
// under the server's default isolation (private view), with
// blockNetworkAccess and with a destination list, round robin in the same
// run so that machine noise hits them alike; through warm stages (the
// namespace, and for the allowlist the listeners and the capture, made
// while idle) and cold ones (all of it on the launch's path). Run as root.
func BenchmarkNetworkCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	names := []string{"default", "block", "allowlist"}
	cfgs := []config.Config{{}, {BlockNetworkAccess: true}, {AllowedNetworkDestinations: []string{"example.com"}}}
	for _, pool := range []int{defaultPoolSize, -1} {
		kind := "warm"
		if pool < 0 {
			kind = "cold"
		}
		b.Run(kind, func(b *testing.B) {
			spec := benchSpec(b)
			spec.Dir = "/"
			ls := make([]*Launcher, len(cfgs))
			for i := range cfgs {
				iso, err := IsolationFor(&cfgs[i])
				if err != nil {
					b.Fatal(err)
				}
				ls[i] = testLauncher(pool, iso)
				defer ls[i].Close()
			}
			s := make([]samples, len(cfgs))
			for b.Loop() {
				for i, l := range ls {
					if pool > 0 {
						awaitWarm(b, l)
					} else {
						time.Sleep(5 * time.Millisecond)
					}
					s[i].time(func() { stageExec(b, l, spec) })
				}
			}
			for i, n := range names {
				b.ReportMetric(s[i].median()/1e6, n+"-median-ms")
				if i > 0 {
					b.ReportMetric(s[i].median()/s[0].median(), n+"/default")
				}
			}
		})
	}
}

const jailNetProbe = `package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

func main() {
	b, err := os.ReadFile("/etc/resolv.conf")
	fmt.Printf("resolv %q %v\n", strings.ReplaceAll(string(b), "\n", "|"), err)
	c, err := net.DialTimeout("tcp", "127.0.0.1:3128", 5*time.Second)
	if err != nil {
		fmt.Println("http", err)
		return
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	l, _ := bufio.NewReader(c).ReadString('\n')
	fmt.Println("http", strings.TrimSpace(l))
}
`

// In a jail, the allowlist launch sees the jail's /etc/resolv.conf
// replaced by nameserver 127.0.0.1 (the file on disk unchanged), and the
// proxy's listener; under a root server with namespaces.user too.
func TestNetworkEgressInJail(t *testing.T) {
	needRoot(t)
	jail := hostDir(t) // searchable by a user namespace's root (t.TempDir's parent is 0700)
	for _, d := range []string{"bin", "work", "etc", "run", "tmp"} {
		if err := os.Mkdir(filepath.Join(jail, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(jail, 0o755); err != nil {
		t.Fatal(err)
	}
	resolv := filepath.Join(jail, "etc", "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver 9.9.9.9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := buildProbe(t, filepath.Join(jail, "bin"), jailNetProbe)
	var st0 syscall.Stat_t
	if err := syscall.Stat(exe, &st0); err != nil {
		t.Fatal(err)
	}
	spec := &policy.Spec{Path: exe, Argv: []string{"probe"}, Dir: "/work", Dev: uint64(st0.Dev), Ino: st0.Ino}
	for _, user := range []bool{false, true} {
		cfg := &config.Config{EnableChroot: true, ChrootDirectory: jail, AllowedNetworkDestinations: []string{"example.com"}}
		if user {
			cfg.EnableNamespaces, cfg.Namespaces.User = true, true
		}
		iso, err := IsolationFor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		l := testLauncher(0, iso)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		p, err := l.Start(spec, Stdio{Stdout: w, Stderr: w})
		w.Close()
		if err != nil {
			t.Fatalf("user %v: %v", user, err)
		}
		el, _ := p.Egress()
		fakeEgress(t, el)
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		r.Close()
		exitOK(t, string(b), p.Wait())
		l.Close()
		got := probeLines(string(b))
		if !strings.Contains(got["resolv"], "nameserver 127.0.0.1|") || got["http"] != "http" {
			t.Errorf("user namespace %v, in the jail:\n%s", user, b)
		}
	}
	if b, _ := os.ReadFile(resolv); string(b) != "nameserver 9.9.9.9\n" {
		t.Errorf("the jail's resolv.conf on disk changed: %q", b)
	}
}
