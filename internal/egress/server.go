package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Defaults for the zero values of Options.
const (
	DefaultMaxConns      = 256
	DefaultIdleTimeout   = 5 * time.Minute
	DefaultDialTimeout   = 10 * time.Second
	DefaultHeaderTimeout = 10 * time.Second

	// firstByteWait is how long the transparent path waits for a client's
	// first bytes before deciding by address alone (protocols where the
	// server speaks first send nothing).
	firstByteWait = 500 * time.Millisecond
	// maxHead bounds an HTTP proxy request head or a SOCKS handshake.
	maxHead = 64 << 10
	// maxDNSInFlight bounds the DNS queries answered at once per Tree;
	// more are dropped (the client retries).
	maxDNSInFlight = 64
	// maxNames bounds the per-Tree map of DNS answers (address -> name).
	maxNames = 8192
)

// RuleLimit is Event.Rule of a connection refused by MaxConns.
const RuleLimit = "maxConns"

// Listeners are the sockets the server serves for one launched tree. They
// are created by the caller (inside the child's network namespace) and
// owned by the Tree from Serve on. Any field may be nil.
type Listeners struct {
	// HTTP is the explicit proxy: HTTP CONNECT and plain-HTTP forwarding
	// of absolute-URI requests.
	HTTP net.Listener
	// SOCKS is SOCKS5 without authentication, CONNECT only, with
	// hostname (ATYP 3) and IPv4/IPv6 addressing.
	SOCKS net.Listener
	// Transparent receives connections redirected by nftables; the
	// original destination is read with Options.OriginalDst.
	Transparent net.Listener
	// DNS answers A/AAAA queries for allowed names.
	DNS net.PacketConn
}

// Event is one record for the audit log: a decision (Closed false) or the
// end of an allowed connection (Closed true, with the bytes relayed).
type Event struct {
	Via      string // "connect", "http", "socks5", "transparent", "dns"
	Name     string // the hostname asked for or seen (SNI, Host, DNS answer), or ""
	IP       netip.Addr
	Port     uint16
	Allowed  bool
	Rule     string
	Reason   string
	BytesOut int64 // child to destination
	BytesIn  int64 // destination to child
	Closed   bool
}

// Options configure Serve.
type Options struct {
	// Policy decides; nil refuses everything.
	Policy *Policy
	// Resolve resolves a hostname (nil: net.DefaultResolver). It is
	// called only for names the policy allows.
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// Dial connects to a destination (nil: net.Dialer). address is always
	// a literal IP:port, the address that was checked.
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
	// MaxConns bounds the connections relayed or being set up at once
	// (0: DefaultMaxConns). More are accepted and closed at once.
	MaxConns int
	// IdleTimeout closes a relayed connection with no byte in either
	// direction for that long (0: DefaultIdleTimeout).
	IdleTimeout time.Duration
	// DialTimeout bounds resolving and connecting (0: DefaultDialTimeout).
	DialTimeout time.Duration
	// HeaderTimeout bounds reading a proxy request or the transparent
	// path's first bytes (0: DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// Record receives every decision and every close; it must not block
	// long. nil: nothing is recorded.
	Record func(Event)
	// AnswerAAAA makes the DNS server answer AAAA queries. Off (the
	// default), an AAAA query for an allowed name gets an empty answer:
	// the namespace's capture carries IPv4 only, and a child given IPv6
	// addresses would first try a route it does not have.
	AnswerAAAA bool
	// OriginalDst returns where a transparently redirected connection was
	// going (nil: SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST on Linux).
	OriginalDst func(net.Conn) (netip.AddrPort, error)
}

// Tree serves one launched tree's listeners. Every goroutine it starts is
// owned by it and has returned when Close returns.
type Tree struct {
	o      Options
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	active    int
	conns     map[net.Conn]struct{}
	closers   []io.Closer
	closeOnce sync.Once
	closeErr  error

	dnsSem chan struct{}
	names  nameMap
}

// Serve starts serving l. The Tree owns the listeners from now on.
func Serve(l Listeners, o Options) *Tree {
	if o.Resolve == nil {
		o.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if o.Dial == nil {
		var d net.Dialer
		o.Dial = d.DialContext
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.OriginalDst == nil {
		o.OriginalDst = originalDst
	}
	t := &Tree{o: o, conns: map[net.Conn]struct{}{}, dnsSem: make(chan struct{}, maxDNSInFlight)}
	t.names.m = map[netip.Addr][]string{}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	start := func(ln net.Listener, via string, h func(net.Conn)) {
		if ln == nil {
			return
		}
		t.closers = append(t.closers, ln)
		t.wg.Add(1)
		go t.acceptLoop(ln, via, h)
	}
	start(l.HTTP, "http", t.serveHTTP)
	start(l.SOCKS, "socks5", t.serveSOCKS)
	start(l.Transparent, "transparent", t.serveTransparent)
	if l.DNS != nil {
		t.closers = append(t.closers, l.DNS)
		t.wg.Add(1)
		go t.dnsLoop(l.DNS)
	}
	return t
}

// Close closes the listeners and every relayed connection and waits for
// all of the Tree's goroutines. It may be called more than once.
func (t *Tree) Close() error {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closed = true
		conns := make([]net.Conn, 0, len(t.conns))
		for c := range t.conns {
			conns = append(conns, c)
		}
		t.mu.Unlock()
		t.cancel()
		for _, c := range t.closers {
			if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) && t.closeErr == nil {
				t.closeErr = err
			}
		}
		for _, c := range conns {
			c.Close()
		}
	})
	t.wg.Wait()
	return t.closeErr
}

func (t *Tree) record(e Event) {
	if t.o.Record != nil {
		t.o.Record(e)
	}
}

// track registers c to be closed by Close; false when the Tree is closed
// (then the caller closes c).
func (t *Tree) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Tree) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

// goTracked runs f on a goroutine owned by the Tree; false when closed.
func (t *Tree) goTracked(f func()) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		f()
	}()
	return true
}

func (t *Tree) acceptLoop(ln net.Listener, via string, handle func(net.Conn)) {
	defer t.wg.Done()
	backoff := 5 * time.Millisecond
	for {
		c, err := ln.Accept()
		if err != nil {
			if !t.pause(err, &backoff) {
				return
			}
			continue
		}
		backoff = 5 * time.Millisecond
		t.mu.Lock()
		switch {
		case t.closed:
			t.mu.Unlock()
			c.Close()
			return
		case t.active >= t.o.MaxConns:
			t.mu.Unlock()
			c.Close()
			t.record(Event{Via: via, Rule: RuleLimit, Reason: fmt.Sprintf("too many connections (more than %d at once)", t.o.MaxConns)})
			continue
		}
		t.active++
		t.conns[c] = struct{}{}
		t.wg.Add(1)
		t.mu.Unlock()
		go func() {
			defer t.wg.Done()
			defer func() {
				t.untrack(c)
				t.mu.Lock()
				t.active--
				t.mu.Unlock()
			}()
			handle(c)
		}()
	}
}

// nameMap remembers which allowed names the DNS server answered with which
// address (a shared address may serve several names; the last
// maxNamesPerAddr are kept), so that a transparently captured connection
// is decided by the name the child looked up.
type nameMap struct {
	mu sync.Mutex
	m  map[netip.Addr][]string
}

const maxNamesPerAddr = 4

func (n *nameMap) add(name string, ips []netip.Addr) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ip := range ips {
		names, ok := n.m[ip]
		if !ok && len(n.m) >= maxNames {
			for k := range n.m { // drop one arbitrary entry
				delete(n.m, k)
				break
			}
		}
		if slices.Contains(names, name) {
			continue
		}
		if len(names) >= maxNamesPerAddr {
			names = names[1:]
		}
		n.m[ip] = append(slices.Clip(names), name)
	}
}

// get returns the names answered with ip, oldest first.
func (n *nameMap) get(ip netip.Addr) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.m[ip])
}

// headLimit errors once more than n bytes are read: it bounds a request
// head. Set n to a large value when the head is done.
type headLimit struct {
	r io.Reader
	n int64
}

var errHeadTooLarge = errors.New("request head too large")

func (h *headLimit) Read(p []byte) (int, error) {
	if h.n <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > h.n {
		p = p[:h.n]
	}
	m, err := h.r.Read(p)
	h.n -= int64(m)
	return m, err
}

// pause handles a failed Accept or ReadFrom: false when the tree is closing
// (the loop ends); else it waits backoff, doubling it up to a second, so
// that a lasting error (EMFILE and the like) does not spin.
func (t *Tree) pause(err error, backoff *time.Duration) bool {
	if t.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
		return false
	}
	select {
	case <-t.ctx.Done():
		return false
	case <-time.After(*backoff):
	}
	if *backoff < time.Second {
		*backoff *= 2
	}
	return true
}
