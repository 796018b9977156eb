// One connection's path through the server: its destination decided
// (names before they are resolved, then every address), dialled, and
// relayed until either side is done.

package egress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// target is a decided destination.
type target struct {
	via  string
	name string
	ips  []netip.Addr // candidates, each checked
	port uint16
	d    Decision
}

func (t *Tree) event(tg *target, ip netip.Addr) Event {
	return Event{Via: tg.via, Name: tg.name, IP: ip, Port: tg.port, Allowed: tg.d.Allowed, Rule: tg.d.Rule, Reason: tg.d.Reason}
}

// resolveChecked decides an explicit-proxy destination: a name is checked
// before it is resolved (a refused name is never resolved), then every
// address it resolves to must pass. An address is checked as it is.
func (t *Tree) resolveChecked(via, name string, ip netip.Addr, port uint16) (*target, error) {
	tg := &target{via: via, port: port}
	if name != "" {
		if a, err := netip.ParseAddr(name); err == nil {
			ip, name = a.Unmap(), ""
		}
	}
	if name == "" {
		tg.d = t.o.Policy.Decide("", ip, port)
		tg.ips = []netip.Addr{ip}
		return tg, nil
	}
	if n, ok := CanonicalName(name); ok {
		tg.name = n
	} else {
		tg.name = name
	}
	tg.d = t.o.Policy.Decide(name, netip.Addr{}, port)
	if !tg.d.Allowed {
		return tg, nil
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.o.DialTimeout)
	defer cancel()
	addrs, err := t.o.Resolve(ctx, tg.name)
	if err == nil && len(addrs) == 0 {
		err = errors.New("no addresses")
	}
	if err != nil {
		tg.d = Decision{Rule: RuleDefault, Reason: fmt.Sprintf("%s does not resolve: %v", tg.name, err)}
		return tg, err
	}
	for _, a := range addrs {
		a = a.Unmap()
		if d := t.o.Policy.Decide(tg.name, a, port); !d.Allowed {
			tg.d = d
			tg.d.Reason = fmt.Sprintf("%s resolves to %s: %s", tg.name, a, d.Reason)
			tg.ips = []netip.Addr{a}
			return tg, nil
		}
		tg.ips = append(tg.ips, a)
	}
	return tg, nil
}

// dial connects to the first candidate address that answers. The Dial
// func only ever sees addresses that passed the policy.
func (t *Tree) dial(tg *target) (net.Conn, netip.Addr, error) {
	if !tg.d.Allowed {
		return nil, netip.Addr{}, errors.New("refused")
	}
	ctx, cancel := context.WithTimeout(t.ctx, t.o.DialTimeout)
	defer cancel()
	var firstErr error
	for _, ip := range tg.ips {
		c, err := t.o.Dial(ctx, "tcp", netip.AddrPortFrom(ip, tg.port).String())
		if err == nil {
			if !t.track(c) {
				c.Close()
				return nil, ip, net.ErrClosed
			}
			return c, ip, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	if firstErr == nil {
		firstErr = errors.New("no address to dial")
	}
	return nil, netip.Addr{}, firstErr
}

// relay copies both ways between the child's side (reads from src, which
// ends in c; writes to c) and up until both directions end, a direction
// fails, or nothing moves for IdleTimeout. It then records the close.
func (t *Tree) relay(tg *target, ip netip.Addr, src io.Reader, c, up net.Conn, preOut int64) {
	defer t.untrack(up)
	closeBoth := func() {
		c.Close()
		up.Close()
	}
	w := watchIdle(t.o.IdleTimeout, closeBoth)
	var out, in atomic.Int64
	out.Store(preOut)
	done := make(chan struct{})
	if !t.goTracked(func() {
		defer close(done)
		if err := w.copy(c, up, &in); err == nil {
			closeWrite(c)
		} else {
			closeBoth()
		}
	}) {
		close(done)
		closeBoth()
	}
	if err := w.copy(up, src, &out); err == nil {
		closeWrite(up)
	} else {
		closeBoth()
	}
	<-done
	w.stop()
	e := t.event(tg, ip)
	e.BytesOut, e.BytesIn, e.Closed = out.Load(), in.Load(), true
	t.record(e)
}

// idleWatch calls expire once nothing has moved (touch) for idle, until
// stop.
type idleWatch struct {
	idle    time.Duration
	expire  func()
	last    atomic.Int64 // UnixNano of the last touch
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// watchIdle starts an idleWatch.
func watchIdle(idle time.Duration, expire func()) *idleWatch {
	w := &idleWatch{idle: idle, expire: expire}
	w.touch()
	w.mu.Lock()
	w.timer = time.AfterFunc(idle, w.check)
	w.mu.Unlock()
	return w
}

// touch says something moved now.
func (w *idleWatch) touch() { w.last.Store(time.Now().UnixNano()) }

// check expires the watch if it has been idle long enough, else looks
// again when it would be.
func (w *idleWatch) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	since := time.Since(time.Unix(0, w.last.Load()))
	if since >= w.idle {
		w.expire()
		return
	}
	w.timer = time.AfterFunc(w.idle-since, w.check)
}

// stop ends the watch: expire is not called after it returns.
func (w *idleWatch) stop() {
	w.mu.Lock()
	w.stopped = true
	w.timer.Stop()
	w.mu.Unlock()
}

// copy copies r to dst until r ends (nil) or a read or write fails,
// counting the bytes in n and touching w at each read.
func (w *idleWatch) copy(dst net.Conn, r io.Reader, n *atomic.Int64) error {
	buf := make([]byte, 32<<10)
	for {
		m, err := r.Read(buf)
		if m > 0 {
			w.touch()
			if _, werr := dst.Write(buf[:m]); werr != nil {
				return werr
			}
			n.Add(int64(m))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}
