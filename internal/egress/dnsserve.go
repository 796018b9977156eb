package egress

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsLoop answers queries on pc until the Tree closes. Each query is
// answered on its own goroutine, at most maxDNSInFlight at once; more are
// dropped (the client retries).
func (t *Tree) dnsLoop(pc net.PacketConn) {
	defer t.wg.Done()
	buf := make([]byte, 1500)
	backoff := 5 * time.Millisecond
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if !t.pause(err, &backoff) {
				return
			}
			continue
		}
		backoff = 5 * time.Millisecond
		if n > maxDNSMessage {
			continue
		}
		msg := append([]byte(nil), buf[:n]...)
		select {
		case t.dnsSem <- struct{}{}:
		default:
			continue
		}
		if !t.goTracked(func() {
			defer func() { <-t.dnsSem }()
			if out := t.answerDNS(msg); out != nil {
				pc.WriteTo(out, from)
			}
		}) {
			return
		}
	}
}

// answerDNS returns the response to one query, or nil to drop it.
func (t *Tree) answerDNS(msg []byte) []byte {
	q, answerable, err := parseDNSQuery(msg)
	if err != nil {
		if !answerable {
			return nil
		}
		rc := dnsmessage.RCodeFormatError
		if errors.Is(err, errNotImplemented) {
			rc = dnsmessage.RCodeNotImplemented
		}
		q.question = dnsmessage.Question{}
		out, _ := dnsResponse(q, rc, nil)
		return out
	}
	if q.question.Class != dnsmessage.ClassINET {
		out, _ := dnsResponse(q, dnsmessage.RCodeNotImplemented, nil)
		return out
	}
	rc, addrs := t.lookupForChild(q.question.Name.String(), q.question.Type)
	out, _ := dnsResponse(q, rc, addrs)
	return out
}

// lookupForChild decides and resolves a name asked of the DNS server. A
// name the policy does not allow is NXDOMAIN without being resolved; an
// allowed one is resolved by the server and answered only when every
// address passes; its addresses are remembered for the transparent path.
func (t *Tree) lookupForChild(qname string, qtype dnsmessage.Type) (dnsmessage.RCode, []netip.Addr) {
	ev := Event{Via: "dns", Name: qname}
	name, ok := CanonicalName(qname)
	if ok {
		ev.Name = name
	}
	d := t.o.Policy.anyPortNameAllowed(qname)
	if !d.Allowed {
		ev.Rule, ev.Reason = d.Rule, d.Reason
		t.record(ev)
		return dnsmessage.RCodeNameError, nil
	}
	if qtype != dnsmessage.TypeA && (qtype != dnsmessage.TypeAAAA || !t.o.AnswerAAAA) {
		// Allowed name, other type: an empty answer; nothing resolved.
		return dnsmessage.RCodeSuccess, nil
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.o.DialTimeout)
	defer cancel()
	addrs, err := t.o.Resolve(ctx, name)
	if err != nil {
		ev.Rule, ev.Reason = RuleDefault, name+" does not resolve: "+err.Error()
		t.record(ev)
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return dnsmessage.RCodeNameError, nil
		}
		return dnsmessage.RCodeServerFailure, nil
	}
	for i, a := range addrs {
		a = a.Unmap()
		addrs[i] = a
		if ad := t.o.Policy.anyPortAddrAllowed(name, a); !ad.Allowed {
			ev.IP, ev.Rule, ev.Reason = a, ad.Rule, ad.Reason
			t.record(ev)
			return dnsmessage.RCodeNameError, nil
		}
	}
	t.names.add(name, addrs)
	ev.Allowed, ev.Rule, ev.Reason = true, d.Rule, d.Reason
	for _, a := range addrs {
		if (qtype == dnsmessage.TypeA) == a.Is4() {
			ev.IP = a
			break
		}
	}
	t.record(ev)
	return dnsmessage.RCodeSuccess, addrs
}
