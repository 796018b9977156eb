//go:build linux

// Integration test of the network layer's two halves: the namespace's
// listeners and nftables capture (this package) served by package egress
// (SO_ORIGINAL_DST under the capture, resolv.conf -> the DNS server,
// CONNECT to the host's loopback, transparent by DNS-remembered name).

package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/egress"
)

const egressIntegProbe = `import socket, sys, urllib.request, os
echo = int(sys.argv[1])
def talk(c):
    c.settimeout(3)
    c.sendall(b'ping'); d = c.recv(10); c.close(); return d.decode() or 'closed'
def tcp(addr):
    try:
        return talk(socket.create_connection(addr, timeout=3))
    except OSError as e:
        return 'failed %s' % e
def connect(target):
    try:
        c = socket.create_connection(('127.0.0.1', 3128), timeout=3)
        c.sendall(('CONNECT %s HTTP/1.1\r\n\r\n' % target).encode())
        r = b''
        while b'\r\n\r\n' not in r:
            d = c.recv(1)
            if not d: break
            r += d
        if not r.startswith(b'HTTP/1.1 200'): return r.split(b'\r\n')[0].decode()
        return talk(c)
    except OSError as e:
        return 'failed %s' % e
def resolve(n):
    try:
        return ','.join(sorted(set(a[4][0] for a in socket.getaddrinfo(n, 80, socket.AF_INET))))
    except OSError as e:
        return 'failed %s' % e
print('connect-host', connect('127.0.0.1:%d' % echo))
print('connect-host2', connect('127.0.0.2:%d' % echo))
print('connect-meta', connect('169.254.169.254:80'))
print('resolve-api', resolve('api.test'))
print('resolve-other', resolve('other.test'))
print('direct-api', tcp(('203.0.113.10', echo)))
print('direct-unnamed', tcp(('203.0.113.11', echo)))
`

func TestEgressIntegration(t *testing.T) {
	needNetNS(t)
	el, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer el.Close()
	go func() {
		for {
			c, err := el.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	echo := netip.MustParseAddrPort(el.Addr().String())
	iso, err := IsolationFor(&config.Config{AllowedNetworkDestinations: []string{"api.test"}})
	if err != nil {
		t.Fatal(err)
	}
	l := testLauncher(0, iso)
	defer l.Close()
	spec := py(t, egressIntegProbe)
	spec.Argv = append(spec.Argv, fmt.Sprint(echo.Port()))
	r, w, _ := os.Pipe()
	defer r.Close()
	p, err := l.Start(spec, Stdio{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	lis, ok := p.Egress()
	if !ok {
		p.Abort()
		t.Fatal("no listeners")
	}
	pol, err := egress.Compile([]string{"api.test", echo.String()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []egress.Event
	var dials []string
	tree := egress.Serve(egress.Listeners{HTTP: lis.HTTP, SOCKS: lis.SOCKS, Transparent: lis.Transparent, DNS: lis.DNS}, egress.Options{
		Policy: pol,
		Resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host == "api.test" {
				return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
			}
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		},
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			mu.Lock()
			dials = append(dials, address)
			mu.Unlock()
			if address == fmt.Sprintf("203.0.113.10:%d", echo.Port()) {
				address = echo.String()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		},
		Record: func(e egress.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	defer tree.Close()
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r)
	exitOK(t, string(b), p.Wait())
	t.Logf("captured %v\n%s", lis.Captured, b)
	got := probeLines(string(b))
	want := map[string]string{
		"connect-host":   "ping",
		"connect-host2":  "HTTP/1.1 403 Forbidden",
		"connect-meta":   "HTTP/1.1 403 Forbidden",
		"resolve-api":    "203.0.113.10",
		"direct-api":     "ping",
		"direct-unnamed": "closed",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	mu.Lock()
	t.Logf("dials %v", dials)
	for _, e := range events {
		t.Logf("event %+v", e)
	}
	mu.Unlock()
}
