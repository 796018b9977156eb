package egress

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/proxy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fakeNet is the test's network: names resolve through a table, and a dial
// to a documentation address (203.0.113.0/24) is delivered to a loopback
// server, so that tests can exercise name entries for "public" addresses
// without any traffic leaving the machine. Every dial is logged.
type fakeNet struct {
	mu       sync.Mutex
	names    map[string][]netip.Addr
	routes   map[netip.AddrPort]string // fake public address -> real loopback address
	dials    []string
	resolves []string
}

func newFakeNet() *fakeNet {
	return &fakeNet{names: map[string][]netip.Addr{}, routes: map[netip.AddrPort]string{}}
}

func (f *fakeNet) setName(name string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var as []netip.Addr
	for _, a := range addrs {
		as = append(as, netip.MustParseAddr(a))
	}
	f.names[name] = as
}

func (f *fakeNet) route(fake string, real string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[netip.MustParseAddrPort(fake)] = real
}

func (f *fakeNet) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolves = append(f.resolves, host)
	as, ok := f.names[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return append([]netip.Addr(nil), as...), nil
}

func (f *fakeNet) dial(ctx context.Context, network, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial of a non-literal address %q", address)
	}
	f.mu.Lock()
	f.dials = append(f.dials, address)
	real, ok := f.routes[ap]
	f.mu.Unlock()
	if !ok {
		if !ap.Addr().IsLoopback() {
			return nil, fmt.Errorf("test refuses to dial %s", address)
		}
		real = address
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

func (f *fakeNet) dialed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.dials...)
}

func (f *fakeNet) resolved() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.resolves...)
}

type recorder struct {
	mu sync.Mutex
	ev []Event
}

func (r *recorder) record(e Event) {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.ev...)
}

// waitEvent waits for an event matching f.
func (r *recorder) waitEvent(t *testing.T, f func(Event) bool) Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range r.events() {
			if f(e) {
				return e
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no matching event; have %+v", r.events())
	return Event{}
}

type harness struct {
	tree  *Tree
	net   *fakeNet
	rec   *recorder
	http  string
	socks string
	trans string
	dns   string
	orig  atomic.Value // netip.AddrPort for the transparent path
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newHarness(t *testing.T, allowed, blocked []string, tweak func(*Options)) *harness {
	t.Helper()
	p, err := Compile(allowed, blocked)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{net: newFakeNet(), rec: &recorder{}}
	h.orig.Store(netip.AddrPort{})
	hl, sl, tl := listen(t), listen(t), listen(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.http, h.socks, h.trans, h.dns = hl.Addr().String(), sl.Addr().String(), tl.Addr().String(), pc.LocalAddr().String()
	o := Options{
		Policy:  p,
		Resolve: h.net.resolve,
		Dial:    h.net.dial,
		Record:  h.rec.record,
		OriginalDst: func(net.Conn) (netip.AddrPort, error) {
			ap := h.orig.Load().(netip.AddrPort)
			if !ap.IsValid() {
				return ap, errors.New("no original destination set")
			}
			return ap, nil
		},
	}
	if tweak != nil {
		tweak(&o)
	}
	h.tree = Serve(Listeners{HTTP: hl, SOCKS: sl, Transparent: tl, DNS: pc}, o)
	t.Cleanup(func() {
		if err := h.tree.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// echoServer echoes every connection until the test ends.
func echoServer(t *testing.T) netip.AddrPort {
	t.Helper()
	l := listen(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return netip.MustParseAddrPort(l.Addr().String())
}

func httpServer(t *testing.T) (*httptest.Server, netip.AddrPort) {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s %s proxyconn=%q", r.Host, r.URL.RequestURI(), r.Header.Get("Proxy-Connection"))
	}))
	t.Cleanup(s.Close)
	return s, netip.MustParseAddrPort(strings.TrimPrefix(s.URL, "http://"))
}

// connect sends CONNECT and returns the connection and the status line.
func connect(t *testing.T, proxyAddr, target string) (net.Conn, *bufio.Reader, string) {
	t.Helper()
	c, err := net.Dial("tcp", proxyAddr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("CONNECT %s: %v", target, err)
	}
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return c, br, resp.Status + ": " + string(b)
	}
	return c, br, resp.Status
}

func roundTrip(t *testing.T, c net.Conn, r io.Reader, msg string) {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(r, buf); err != nil {
		t.Fatalf("reading echo: %v", err)
	}
	if string(buf) != msg {
		t.Fatalf("echo = %q, want %q", buf, msg)
	}
}

func TestConnectAllowedLoopbackAndBytesOnClose(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String()}, nil, nil)
	c, br, status := connect(t, h.http, echo.String())
	if !strings.HasPrefix(status, "200") {
		t.Fatalf("CONNECT = %s", status)
	}
	roundTrip(t, c, br, "hello through CONNECT")
	c.Close()
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Closed })
	if e.Via != "connect" || !e.Allowed || e.IP != echo.Addr() || e.Port != echo.Port() || e.Rule != echo.String() ||
		e.BytesOut != int64(len("hello through CONNECT")) || e.BytesIn != e.BytesOut {
		t.Errorf("close event = %+v", e)
	}
	d := h.rec.events()[0]
	if d.Closed || !d.Allowed || d.Via != "connect" {
		t.Errorf("decision event = %+v", d)
	}
	// Nothing of the finished connection stays tracked.
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.tree.mu.Lock()
		n, active := len(h.tree.conns), h.tree.active
		h.tree.mu.Unlock()
		if n == 0 && active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still tracked, %d active", n, active)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectRefused(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String(), "169.254.0.0/16"}, nil, nil)
	for _, target := range []string{
		fmt.Sprintf("127.0.0.2:%d", echo.Port()),          // loopback, not named
		fmt.Sprintf("127.0.0.1:%d", echo.Port()+1),        // other port
		"169.254.169.254:80",                              // metadata: not by a CIDR
		fmt.Sprintf("[::1]:%d", echo.Port()),              // IPv6 loopback
		fmt.Sprintf("localhost:%d", echo.Port()),          // a name not allowed: not resolved
		fmt.Sprintf("[::ffff:127.0.0.2]:%d", echo.Port()), // mapped
	} {
		_, _, status := connect(t, h.http, target)
		if !strings.HasPrefix(status, "403") || !strings.Contains(status, "refused by mcp-process") {
			t.Errorf("CONNECT %s = %s; want 403", target, status)
		}
	}
	if d := h.net.dialed(); len(d) != 0 {
		t.Errorf("refused destinations were dialled: %v", d)
	}
	if r := h.net.resolved(); len(r) != 0 {
		t.Errorf("a refused name was resolved: %v", r)
	}
	var refused int
	for _, e := range h.rec.events() {
		if !e.Allowed && !e.Closed && e.Via == "connect" && e.Reason != "" {
			refused++
		}
	}
	if refused != 6 {
		t.Errorf("%d refused decision events, want 6: %+v", refused, h.rec.events())
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.IP == netip.MustParseAddr("169.254.169.254") })
	if e.Allowed || e.Rule != RuleDefault || !strings.Contains(e.Reason, "metadata") {
		t.Errorf("metadata event = %+v", e)
	}
}

func TestConnectByNameChecksEveryAddress(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{"*.test"}, []string{"203.0.113.66"}, nil)
	h.net.setName("api.test", "203.0.113.10")
	h.net.setName("meta.test", "169.254.169.254")
	h.net.setName("mixed.test", "203.0.113.10", "127.0.0.1")
	h.net.setName("blockedip.test", "203.0.113.10", "203.0.113.66")
	h.net.route(fmt.Sprintf("203.0.113.10:%d", echo.Port()), echo.String())

	c, br, status := connect(t, h.http, fmt.Sprintf("API.Test.:%d", echo.Port()))
	if !strings.HasPrefix(status, "200") {
		t.Fatalf("CONNECT api.test = %s", status)
	}
	roundTrip(t, c, br, "by name")
	for _, n := range []string{"meta.test", "mixed.test", "blockedip.test", "nxdomain.test"} {
		_, _, status := connect(t, h.http, fmt.Sprintf("%s:%d", n, echo.Port()))
		if strings.HasPrefix(status, "200") {
			t.Errorf("CONNECT %s allowed", n)
		}
	}
	want := []string{fmt.Sprintf("203.0.113.10:%d", echo.Port())}
	if d := h.net.dialed(); fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("dialled %v, want only %v", d, want)
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Name == "blockedip.test" })
	if e.Allowed || e.Rule != "203.0.113.66" {
		t.Errorf("blocked address event = %+v", e)
	}
}

// The resolver answers differently on every call: the server must dial the
// address it checked, never a second answer.
func TestRebindingCannotReachChangedAddress(t *testing.T) {
	echo := echoServer(t)
	var calls atomic.Int32
	h := newHarness(t, []string{"api.test"}, nil, func(o *Options) {
		o.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			if calls.Add(1)%2 == 1 {
				return []netip.Addr{netip.MustParseAddr("203.0.113.10")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
	})
	h.net.route(fmt.Sprintf("203.0.113.10:%d", echo.Port()), echo.String())
	// DNS answer first (call 1): 203.0.113.10.
	rc, addrs := askDNS(t, h.dns, "api.test.", dnsmessage.TypeA)
	if rc != dnsmessage.RCodeSuccess || fmt.Sprint(addrs) != "[203.0.113.10]" {
		t.Fatalf("DNS = %v %v", rc, addrs)
	}
	// The answer changes to loopback (call 2): CONNECT by name is refused.
	_, _, status := connect(t, h.http, fmt.Sprintf("api.test:%d", echo.Port()))
	if !strings.HasPrefix(status, "403") {
		t.Errorf("CONNECT after the answer changed to loopback = %s", status)
	}
	// Call 3 answers 203.0.113.10 again: one lookup, that address dialled.
	c, br, status := connect(t, h.http, fmt.Sprintf("api.test:%d", echo.Port()))
	if !strings.HasPrefix(status, "200") {
		t.Fatalf("CONNECT = %s", status)
	}
	roundTrip(t, c, br, "x")
	// Transparent, no name in the bytes, to the address the DNS answered:
	// decided by the remembered name; no new lookup decides the address.
	h.orig.Store(netip.MustParseAddrPort(fmt.Sprintf("203.0.113.10:%d", echo.Port())))
	tc, err := net.Dial("tcp", h.trans)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	roundTrip(t, tc, tc, "\x00raw bytes")
	for _, d := range h.net.dialed() {
		if d != fmt.Sprintf("203.0.113.10:%d", echo.Port()) {
			t.Errorf("dialled %s, not the checked address", d)
		}
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("%d lookups, want 3 (DNS, two CONNECTs)", n)
	}
}

func TestPlainHTTPForward(t *testing.T) {
	_, hs := httpServer(t)
	h := newHarness(t, []string{hs.String(), "web.test:80"}, nil, nil)
	h.net.setName("web.test", "203.0.113.20")
	h.net.route("203.0.113.20:80", hs.String())
	pu, _ := url.Parse("http://" + h.http)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	for _, u := range []string{"http://" + hs.String() + "/a/b?c=d", "http://web.test/x"} {
		resp, err := cl.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pu, _ := url.Parse(u)
		want := fmt.Sprintf("hello %s %s proxyconn=\"\"", pu.Host, pu.RequestURI())
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("GET %s = %d %q; want %q", u, resp.StatusCode, b, want)
		}
	}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.2:%d/", hs.Port()))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "loopback") {
		t.Errorf("GET 127.0.0.2 = %d %q", resp.StatusCode, b)
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Closed && e.Via == "http" && e.Name == "web.test" })
	if e.BytesOut == 0 || e.BytesIn == 0 || e.IP != netip.MustParseAddr("203.0.113.20") {
		t.Errorf("close event = %+v", e)
	}
	// Not a proxy request.
	c, err := net.Dial("tcp", h.http)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /relative HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 400 {
		t.Errorf("relative request: %v %v", r, err)
	}
}

func TestHTTPHeadTooLarge(t *testing.T) {
	h := newHarness(t, nil, nil, nil)
	c, err := net.Dial("tcp", h.http)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	go func() {
		io.WriteString(c, "CONNECT a.test:443 HTTP/1.1\r\nX: "+strings.Repeat("a", 100<<10)+"\r\n\r\n")
	}()
	r, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || r.StatusCode != 400 {
		t.Errorf("huge head: %v %v", r, err)
	}
}

func TestSOCKS5ByNameAndAddress(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String(), "api.test"}, nil, nil)
	h.net.setName("api.test", "203.0.113.10")
	h.net.route(fmt.Sprintf("203.0.113.10:%d", echo.Port()), echo.String())
	d, err := proxy.SOCKS5("tcp", h.socks, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{echo.String(), fmt.Sprintf("api.test:%d", echo.Port())} {
		c, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatalf("SOCKS5 %s: %v", target, err)
		}
		roundTrip(t, c, c, "socks "+target)
		c.Close()
	}
	for _, target := range []string{fmt.Sprintf("127.0.0.2:%d", echo.Port()), "169.254.169.254:80", "other.test:80"} {
		c, err := d.Dial("tcp", target)
		if err == nil {
			c.Close()
			t.Errorf("SOCKS5 %s allowed", target)
		} else if !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("SOCKS5 %s: %v; want 'connection not allowed by ruleset'", target, err)
		}
	}
	want := fmt.Sprint([]string{echo.String(), fmt.Sprintf("203.0.113.10:%d", echo.Port())})
	if got := fmt.Sprint(h.net.dialed()); got != want {
		t.Errorf("dialled %s, want %s", got, want)
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Closed && e.Name == "api.test" })
	if e.Via != "socks5" || e.BytesIn == 0 {
		t.Errorf("close event = %+v", e)
	}
}

func TestSOCKS5Protocol(t *testing.T) {
	h := newHarness(t, nil, nil, nil)
	talk := func(send []byte, n int) []byte {
		c, err := net.Dial("tcp", h.socks)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write(send)
		b := make([]byte, n)
		m, _ := io.ReadFull(c, b)
		return b[:m]
	}
	// Only username/password offered: no acceptable method.
	if got := talk([]byte{5, 1, 2}, 2); string(got) != "\x05\xff" {
		t.Errorf("no-auth refused: %x", got)
	}
	// BIND: command not supported.
	if got := talk([]byte{5, 1, 0, 5, 2, 0, 1, 1, 2, 3, 4, 0, 80}, 12); len(got) < 4 || got[3] != socksCmdNotSupported {
		t.Errorf("BIND reply: %x", got)
	}
	// Unknown address type.
	if got := talk([]byte{5, 1, 0, 5, 1, 0, 9, 0, 0}, 12); len(got) < 4 || got[3] != socksAtypNotSupported {
		t.Errorf("ATYP 9 reply: %x", got)
	}
}

func TestTransparentHostSNIAndAddress(t *testing.T) {
	hs, hsAddr := httpServer(t)
	ts := httptest.NewTLSServer(hs.Config.Handler)
	defer ts.Close()
	tsAddr := netip.MustParseAddrPort(strings.TrimPrefix(ts.URL, "https://"))
	echo := echoServer(t)
	h := newHarness(t, []string{"api.test", "203.0.113.50"}, []string{"evil.test"}, nil)
	h.net.setName("api.test", "203.0.113.10")
	h.net.setName("evil.test", "203.0.113.10")
	h.net.route("203.0.113.10:80", hsAddr.String())
	h.net.route("203.0.113.10:443", tsAddr.String())
	h.net.route("203.0.113.11:443", tsAddr.String())
	h.net.route("203.0.113.50:443", tsAddr.String())
	h.net.route("203.0.113.12:7", echo.String())

	get := func(orig string, req string) (string, error) {
		h.orig.Store(netip.MustParseAddrPort(orig))
		c, err := net.Dial("tcp", h.trans)
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c, req)
		b, err := io.ReadAll(c)
		return string(b), err
	}
	tlsGet := func(orig, sni string) error {
		h.orig.Store(netip.MustParseAddrPort(orig))
		c, err := net.Dial("tcp", h.trans)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
		return tc.Handshake()
	}

	// HTTP Host names an allowed name whose address is the destination.
	out, _ := get("203.0.113.10:80", "GET /p HTTP/1.1\r\nHost: API.test\r\nConnection: close\r\n\r\n")
	if !strings.Contains(out, "200 OK") || !strings.Contains(out, "hello API.test /p") {
		t.Errorf("Host api.test: %q", out)
	}
	// Host names an allowed name, but the destination is not its address.
	if out, _ := get("203.0.113.11:80", "GET / HTTP/1.1\r\nHost: api.test\r\n\r\n"); out != "" {
		t.Errorf("spoofed Host reached the server: %q", out)
	}
	// Host names a blocked name, at an allowed name's address.
	if out, _ := get("203.0.113.10:80", "GET / HTTP/1.1\r\nHost: evil.test\r\n\r\n"); out != "" {
		t.Errorf("blocked Host reached the server: %q", out)
	}
	// TLS SNI.
	if err := tlsGet("203.0.113.10:443", "api.test"); err != nil {
		t.Errorf("SNI api.test: %v", err)
	}
	if err := tlsGet("203.0.113.11:443", "api.test"); err == nil {
		t.Errorf("SNI api.test to another address was relayed")
	}
	if err := tlsGet("203.0.113.10:443", "other.test"); err == nil {
		t.Errorf("SNI other.test was relayed")
	}
	// An address entry allows its address whatever the SNI.
	if err := tlsGet("203.0.113.50:443", "anything.test"); err != nil {
		t.Errorf("SNI to an allowed address: %v", err)
	}
	// No name in the bytes, an address nobody resolved: refused.
	h.orig.Store(netip.MustParseAddrPort("203.0.113.12:7"))
	c, err := net.Dial("tcp", h.trans)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "\x00\x01")
	if b, err := io.ReadAll(c); len(b) != 0 {
		t.Errorf("unnamed address relayed: %q %v", b, err)
	}
	c.Close()
	for _, d := range h.net.dialed() {
		if d == "203.0.113.11:80" || d == "203.0.113.11:443" || d == "203.0.113.12:7" {
			t.Errorf("dialled refused destination %s", d)
		}
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Via == "transparent" && e.IP == netip.MustParseAddr("203.0.113.11") })
	if e.Allowed || !strings.Contains(e.Reason, "not an address of api.test") {
		t.Errorf("spoof event = %+v", e)
	}
	e = h.rec.waitEvent(t, func(e Event) bool { return e.Via == "transparent" && e.Name == "evil.test" })
	if e.Allowed || e.Rule != "evil.test" {
		t.Errorf("blocked Host event = %+v", e)
	}
}

// A protocol where the server speaks first: the client sends nothing, the
// address decides after a short wait.
func TestTransparentServerSpeaksFirst(t *testing.T) {
	l := listen(t)
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.WriteString(c, "220 hello\r\n")
		c.Close()
	}()
	h := newHarness(t, []string{l.Addr().String()}, nil, nil)
	h.orig.Store(netip.MustParseAddrPort(l.Addr().String()))
	c, err := net.Dial("tcp", h.trans)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if line != "220 hello\r\n" {
		t.Errorf("greeting = %q %v", line, err)
	}
	<-done
}

func TestDNS(t *testing.T) {
	h := newHarness(t, []string{"api.test", "*.svc.test", "local.test", "127.0.0.1"}, []string{"no.svc.test"}, func(o *Options) { o.AnswerAAAA = true })
	h.net.setName("api.test", "203.0.113.10", "2001:db8::10")
	h.net.setName("a.svc.test", "203.0.113.11")
	h.net.setName("meta.svc.test", "169.254.169.254")
	h.net.setName("local.test", "127.0.0.1")
	h.net.setName("other.test", "203.0.113.12")
	cases := []struct {
		name  string
		typ   dnsmessage.Type
		rc    dnsmessage.RCode
		addrs string
	}{
		{"api.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[203.0.113.10]"},
		{"API.TEST.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, "[2001:db8::10]"},
		{"api.test.", dnsmessage.TypeMX, dnsmessage.RCodeSuccess, "[]"},
		{"a.svc.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[203.0.113.11]"},
		{"a.svc.test.", dnsmessage.TypeAAAA, dnsmessage.RCodeSuccess, "[]"},
		{"other.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"other.test.", dnsmessage.TypeTXT, dnsmessage.RCodeNameError, "[]"},
		{"no.svc.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"meta.svc.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"missing.svc.test.", dnsmessage.TypeA, dnsmessage.RCodeNameError, "[]"},
		{"local.test.", dnsmessage.TypeA, dnsmessage.RCodeSuccess, "[127.0.0.1]"},
	}
	for _, c := range cases {
		rc, addrs := askDNS(t, h.dns, c.name, c.typ)
		if rc != c.rc || fmt.Sprint(addrs) != c.addrs {
			t.Errorf("%s %v = %v %v; want %v %s", c.name, c.typ, rc, addrs, c.rc, c.addrs)
		}
	}
	for _, r := range h.net.resolved() {
		if r == "other.test" || r == "no.svc.test" {
			t.Errorf("refused name %s was resolved", r)
		}
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Via == "dns" && e.Name == "meta.svc.test" })
	if e.Allowed || !strings.Contains(e.Reason, "metadata") {
		t.Errorf("metadata DNS event = %+v", e)
	}
	e = h.rec.waitEvent(t, func(e Event) bool { return e.Via == "dns" && e.Name == "api.test" })
	if !e.Allowed || e.Rule != "api.test" {
		t.Errorf("allowed DNS event = %+v", e)
	}
	// Many addresses: as many as fit in 512 bytes, all of them real.
	var many []string
	for i := 1; i <= 100; i++ {
		many = append(many, fmt.Sprintf("203.0.113.%d", i))
	}
	h.net.setName("many.svc.test", many...)
	if rc, addrs := askDNS(t, h.dns, "many.svc.test.", dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess || len(addrs) < 10 || len(addrs) > 40 || addrs[0].String() != many[0] {
		t.Errorf("100 addresses: %v %d %v", rc, len(addrs), addrs)
	}
	// Without AnswerAAAA (an IPv4-only namespace) AAAA is empty.
	h4 := newHarness(t, []string{"api.test"}, nil, nil)
	h4.net.setName("api.test", "203.0.113.10", "2001:db8::10")
	if rc, addrs := askDNS(t, h4.dns, "api.test.", dnsmessage.TypeAAAA); rc != dnsmessage.RCodeSuccess || len(addrs) != 0 {
		t.Errorf("AAAA without AnswerAAAA = %v %v", rc, addrs)
	}
	if rc, addrs := askDNS(t, h4.dns, "api.test.", dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess || fmt.Sprint(addrs) != "[203.0.113.10]" {
		t.Errorf("A without AnswerAAAA = %v %v", rc, addrs)
	}
	// Garbage is dropped or answered with an error; the server goes on.
	pc, err := net.Dial("udp", h.dns)
	if err != nil {
		t.Fatal(err)
	}
	pc.Write([]byte{1, 2, 3})
	pc.Close()
	if rc, _ := askDNS(t, h.dns, "api.test.", dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess {
		t.Errorf("after garbage: %v", rc)
	}
}

func askDNS(t *testing.T, server, name string, typ dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 4242, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("DNS %s: %v", name, err)
	}
	var p dnsmessage.Parser
	h, err := p.Start(buf[:n])
	if err != nil || h.ID != 4242 || !h.Response {
		t.Fatalf("DNS reply header %+v %v", h, err)
	}
	p.SkipAllQuestions()
	var addrs []netip.Addr
	for {
		rh, err := p.AnswerHeader()
		if err != nil {
			break
		}
		switch rh.Type {
		case dnsmessage.TypeA:
			r, _ := p.AResource()
			addrs = append(addrs, netip.AddrFrom4(r.A))
		case dnsmessage.TypeAAAA:
			r, _ := p.AAAAResource()
			addrs = append(addrs, netip.AddrFrom16(r.AAAA))
		default:
			p.SkipAnswer()
		}
	}
	return h.RCode, addrs
}

func TestIdleTimeoutClosesRelay(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String()}, nil, func(o *Options) { o.IdleTimeout = 200 * time.Millisecond })
	c, br, status := connect(t, h.http, echo.String())
	if !strings.HasPrefix(status, "200") {
		t.Fatal(status)
	}
	roundTrip(t, c, br, "ping")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Errorf("idle relay not closed: %v", err)
	}
	h.rec.waitEvent(t, func(e Event) bool { return e.Closed && e.BytesOut == 4 })
}

func TestCloseEndsRelays(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String()}, nil, nil)
	c, br, status := connect(t, h.http, echo.String())
	if !strings.HasPrefix(status, "200") {
		t.Fatal(status)
	}
	roundTrip(t, c, br, "ping")
	if err := h.tree.Close(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := br.ReadByte(); err == nil {
		t.Errorf("relay survived Close")
	}
	if _, err := net.Dial("tcp", h.http); err == nil {
		t.Errorf("listener survived Close")
	}
}

// A child opening thousands of connections gets MaxConns at once; the
// rest are closed at once and recorded; the server's goroutines stay
// bounded, an allowed connection still works afterwards, and everything is
// gone after Close.
func TestConnectionFlood(t *testing.T) {
	echo := echoServer(t)
	before := runtime.NumGoroutine()
	const maxConns, flood = 64, 2000
	h := newHarness(t, []string{echo.String()}, nil, func(o *Options) {
		o.MaxConns = maxConns
		o.HeaderTimeout = 30 * time.Second
	})
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < flood; i++ {
		c, err := net.Dial("tcp", h.http)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	var limited int
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		limited = 0
		for _, e := range h.rec.events() {
			if e.Rule == RuleLimit {
				limited++
			}
		}
		if limited >= flood-maxConns {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if limited != flood-maxConns {
		t.Errorf("%d connections refused by the limit, want %d", limited, flood-maxConns)
	}
	if g := runtime.NumGoroutine() - before; g > maxConns+20 {
		t.Errorf("%d goroutines for %d held connections (limit %d)", g, flood, maxConns)
	}
	// Free the slots: the child closes its connections.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	var ok bool
	for i := 0; i < 200 && !ok; i++ {
		c, err := net.Dial("tcp", h.http)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", echo)
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if resp, err := http.ReadResponse(br, nil); err == nil && resp.StatusCode == 200 {
			roundTrip(t, c, br, "still serving")
			ok = true
		}
		c.Close()
		if !ok {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !ok {
		t.Fatal("no allowed connection after the flood")
	}
	if err := h.tree.Close(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if g := runtime.NumGoroutine(); g > before {
		t.Errorf("%d goroutines after Close, %d before", g, before)
	}
}

// Bytes a client sends right behind its CONNECT request or SOCKS5 request
// (without waiting for the reply) reach the destination.
func TestPipelinedBytesAfterHandshake(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{echo.String()}, nil, nil)
	c, err := net.Dial("tcp", h.http)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\nearly bytes", echo)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	buf := make([]byte, len("early bytes"))
	if _, err := io.ReadFull(br, buf); err != nil || string(buf) != "early bytes" {
		t.Errorf("pipelined CONNECT bytes: %q %v", buf, err)
	}

	s, err := net.Dial("tcp", h.socks)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDeadline(time.Now().Add(5 * time.Second))
	a4 := echo.Addr().As4()
	req := []byte{5, 1, 0, 5, 1, 0, 1, a4[0], a4[1], a4[2], a4[3], byte(echo.Port() >> 8), byte(echo.Port())}
	s.Write(append(req, "socks early"...))
	reply := make([]byte, 2+10+len("socks early"))
	if _, err := io.ReadFull(s, reply); err != nil || reply[3] != socksSucceeded || string(reply[12:]) != "socks early" {
		t.Errorf("pipelined SOCKS5: %q %v", reply, err)
	}
}

func TestPlainHTTPPostBody(t *testing.T) {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %s", r.Method, len(b), b[:min(len(b), 5)])
	}))
	defer s.Close()
	hs := strings.TrimPrefix(s.URL, "http://")
	h := newHarness(t, []string{hs}, nil, nil)
	pu, _ := url.Parse("http://" + h.http)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	body := strings.Repeat("x", 300<<10)
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Post(s.URL+"/up", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != fmt.Sprintf("POST %d xxxxx", len(body)) {
		t.Errorf("POST through the proxy: %q", b)
	}
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Closed })
	if e.BytesOut < int64(len(body)) {
		t.Errorf("close event counts %d bytes out, body was %d", e.BytesOut, len(body))
	}
}

// One address answered for two names: a captured connection is decided by
// any name the server answered with that address, and a Host naming one
// of them passes even after that name's answer moved elsewhere.
func TestTransparentSharedAddress(t *testing.T) {
	echo := echoServer(t)
	h := newHarness(t, []string{"a.test:443", "b.test"}, nil, nil)
	h.net.setName("a.test", "203.0.113.10")
	h.net.setName("b.test", "203.0.113.10")
	h.net.route(fmt.Sprintf("203.0.113.10:%d", echo.Port()), echo.String())
	for _, n := range []string{"b.test.", "a.test."} {
		if rc, _ := askDNS(t, h.dns, n, dnsmessage.TypeA); rc != dnsmessage.RCodeSuccess {
			t.Fatalf("DNS %s: %v", n, rc)
		}
	}
	h.net.setName("b.test", "203.0.113.99")
	h.orig.Store(netip.MustParseAddrPort(fmt.Sprintf("203.0.113.10:%d", echo.Port())))
	// No name: a.test (newest) is not allowed on this port, b.test is.
	c, err := net.Dial("tcp", h.trans)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, c, c, "\x00no name")
	c.Close()
	e := h.rec.waitEvent(t, func(e Event) bool { return e.Via == "transparent" && !e.Closed })
	if !e.Allowed || e.Name != "b.test" || e.Rule != "b.test" {
		t.Errorf("event = %+v", e)
	}
	// Host b.test: its fresh answer is elsewhere, but the server answered
	// the child this address for it.
	c, err = net.Dial("tcp", h.trans)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "GET / HTTP/1.1\r\nHost: b.test\r\n\r\n"
	roundTrip(t, c, c, msg)
}
