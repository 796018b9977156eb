package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"slices"
	"time"
)

// serveTransparent handles one connection redirected by nftables. It reads
// the client's first bytes (at most maxPeek, within HeaderTimeout, and only
// firstByteWait for the first one), takes the name from the TLS SNI or the
// HTTP Host header when there is one, decides, dials the original
// destination address (never another one) and replays the bytes it read.
func (t *Tree) serveTransparent(c net.Conn) {
	orig, err := t.o.OriginalDst(c)
	if err != nil || !orig.IsValid() {
		t.record(Event{Via: "transparent", Rule: RuleDefault, Reason: fmt.Sprintf("original destination unknown: %v", err)})
		return
	}
	ip, port := orig.Addr().Unmap(), orig.Port()

	peek, seen, ok := t.peek(c)
	if !ok {
		return
	}
	tg := &target{via: "transparent", port: port, ips: []netip.Addr{ip}}
	tg.name, tg.d = t.decideTransparent(seen, ip, port)
	t.record(t.event(tg, ip))
	if !tg.d.Allowed {
		return
	}
	up, _, err := t.dial(tg)
	if err != nil {
		e := t.event(tg, ip)
		e.Closed, e.Reason = true, "connection failed: "+err.Error()
		t.record(e)
		return
	}
	if len(peek) > 0 {
		up.SetWriteDeadline(time.Now().Add(t.o.HeaderTimeout))
		if _, err := up.Write(peek); err != nil {
			t.relayDone(tg, ip, up)
			return
		}
		up.SetWriteDeadline(time.Time{})
	}
	t.relay(tg, ip, c, c, up, int64(len(peek)))
}

// peek reads the first bytes. ok is false when the client went away
// without sending anything or the read failed.
func (t *Tree) peek(c net.Conn) (b []byte, name string, ok bool) {
	buf := make([]byte, maxPeek)
	n := 0
	start := time.Now()
	c.SetReadDeadline(start.Add(min(firstByteWait, t.o.HeaderTimeout)))
	defer c.SetReadDeadline(time.Time{})
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		if m > 0 && n == 0 {
			c.SetReadDeadline(start.Add(t.o.HeaderTimeout))
		}
		n += m
		if m > 0 {
			_, nm, serr := sniff(buf[:n])
			if serr != errNeedMore {
				return buf[:n], nm, true // a name, none, or unparseable: address decides
			}
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
				return buf[:n], "", true // nothing (more) within the wait
			}
			if err == io.EOF && n > 0 {
				return buf[:n], "", true
			}
			return nil, "", false
		}
	}
	return buf[:n], "", true
}

// decideTransparent decides a captured connection to ip:port whose first
// bytes named seen ("" for none).
func (t *Tree) decideTransparent(seen string, ip netip.Addr, port uint16) (string, Decision) {
	p := t.o.Policy
	if seen == "" {
		var name string
		var d Decision
		for _, name = range t.names.get(ip) {
			if d = p.Decide(name, ip, port); d.Allowed {
				return name, d
			}
		}
		if name == "" {
			d = p.Decide("", ip, port)
		}
		return name, d
	}
	name, ok := CanonicalName(seen)
	if !ok {
		return "", p.Decide("", ip, port)
	}
	if d := p.Decide(name, netip.Addr{}, port); !d.Allowed {
		// A refused name is never resolved; an address entry may still
		// allow the address (a blocked name stays blocked).
		return name, p.Decide(name, ip, port)
	}
	if t.isAddressOf(name, ip) {
		return name, p.Decide(name, ip, port)
	}
	d := p.Decide("", ip, port)
	if !d.Allowed {
		d.Reason = fmt.Sprintf("%s is not an address of %s (the name in the TLS SNI or HTTP Host); %s", ip, name, d.Reason)
	}
	return name, d
}

// isAddressOf reports whether the server's own resolution of name (a DNS
// answer it gave, or a fresh lookup) includes ip.
func (t *Tree) isAddressOf(name string, ip netip.Addr) bool {
	if slices.Contains(t.names.get(ip), name) {
		return true
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.o.DialTimeout)
	defer cancel()
	addrs, err := t.o.Resolve(ctx, name)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.Unmap() == ip {
			return true
		}
	}
	return false
}
