package egress

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// serveHTTP handles one connection to the explicit HTTP proxy: CONNECT, or
// one plain-HTTP request with an absolute http:// URI (the connection then
// closes: no keep-alive through the proxy).
func (t *Tree) serveHTTP(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(t.o.HeaderTimeout))
	lim := &headLimit{r: c, n: maxHead}
	br := bufio.NewReaderSize(lim, 4096)
	req, err := http.ReadRequest(br)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			httpError(c, http.StatusBadRequest, "malformed proxy request: "+err.Error())
		}
		return
	}
	lim.n = math.MaxInt64
	c.SetReadDeadline(time.Time{})
	if req.Method == http.MethodConnect {
		t.serveConnect(c, br, req)
	} else {
		t.forwardHTTP(c, req)
	}
}

// serveConnect tunnels a CONNECT request: the rest of the connection (br
// holds what was read past the request) is relayed to its target.
func (t *Tree) serveConnect(c net.Conn, br *bufio.Reader, req *http.Request) {
	host, port, err := splitHostPort(req.RequestURI)
	if err != nil {
		httpError(c, http.StatusBadRequest, "CONNECT target: "+err.Error())
		return
	}
	tg, up, ip, ok := t.open("connect", host, port, func(code int, msg string) { httpError(c, code, msg) })
	if !ok {
		return
	}
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		t.relayDone(tg, ip, up)
		return
	}
	t.relay(tg, ip, br, c, up, 0)
}

// forwardHTTP forwards one plain-HTTP request with an absolute http:// URI
// to its origin, in origin form, hop-by-hop headers removed, and relays
// the answer; the connection then closes.
func (t *Tree) forwardHTTP(c net.Conn, req *http.Request) {
	port, msg := httpTarget(req.URL)
	if msg != "" {
		httpError(c, http.StatusBadRequest, msg)
		return
	}
	tg, up, ip, ok := t.open("http", req.URL.Hostname(), port, func(code int, msg string) { httpError(c, code, msg) })
	if !ok {
		return
	}
	for _, h := range strings.Split(req.Header.Get("Connection"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			req.Header.Del(h)
		}
	}
	for _, h := range []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authorization", "Proxy-Authenticate", "Te", "Trailer", "Upgrade"} {
		req.Header.Del(h)
	}
	req.Close = true
	req.RequestURI = ""
	pr, pw := io.Pipe()
	wrote := make(chan struct{})
	if !t.goTracked(func() {
		defer close(wrote)
		pw.CloseWithError(req.Write(pw))
	}) {
		close(wrote)
		pw.Close()
	}
	t.relay(tg, ip, pr, c, up, 0)
	pr.Close()
	c.Close()
	<-wrote
}

// httpTarget returns the port of a plain-HTTP request's absolute URL (80
// unless it says), or why the proxy does not forward it.
func httpTarget(u *url.URL) (uint16, string) {
	if u == nil || !u.IsAbs() || u.Host == "" {
		return 0, "this is a proxy: send an absolute http:// URL, or CONNECT for https"
	}
	if u.Scheme != "http" {
		return 0, fmt.Sprintf("scheme %q is not forwarded; use CONNECT for https", u.Scheme)
	}
	p := u.Port()
	if p == "" {
		return 80, ""
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return 0, "bad port " + p
	}
	return uint16(n), ""
}

// open decides and dials a proxy destination, recording the decision. On
// refusal or failure it calls fail with an HTTP status (mapped to a SOCKS
// code by the SOCKS path) and returns ok false.
func (t *Tree) open(via, host string, port uint16, fail func(code int, msg string)) (*target, net.Conn, netip.Addr, bool) {
	tg, rerr := t.resolveChecked(via, host, netip.Addr{}, port)
	var first netip.Addr
	if len(tg.ips) > 0 {
		first = tg.ips[0]
	}
	t.record(t.event(tg, first))
	if rerr != nil {
		fail(http.StatusBadGateway, tg.d.Reason)
		return nil, nil, netip.Addr{}, false
	}
	if !tg.d.Allowed {
		fail(http.StatusForbidden, fmt.Sprintf("refused by mcp-process: %s (rule: %s)", tg.d.Reason, tg.d.Rule))
		return nil, nil, netip.Addr{}, false
	}
	up, ip, err := t.dial(tg)
	if err != nil {
		code := http.StatusBadGateway
		if errors.Is(err, errTimeout) || isTimeout(err) {
			code = http.StatusGatewayTimeout
		}
		fail(code, fmt.Sprintf("cannot connect to %s port %d: %v", host, port, err))
		e := t.event(tg, ip)
		e.Closed = true
		e.Reason = "connection failed: " + err.Error()
		t.record(e)
		return nil, nil, netip.Addr{}, false
	}
	return tg, up, ip, true
}

var errTimeout = errors.New("timeout")

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// relayDone records the close of a connection that was dialled but never
// relayed.
func (t *Tree) relayDone(tg *target, ip netip.Addr, up net.Conn) {
	t.untrack(up)
	e := t.event(tg, ip)
	e.Closed = true
	t.record(e)
}

// splitHostPort parses a CONNECT authority host:port ([v6]:port).
func splitHostPort(s string) (string, uint16, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	n, err := strconv.ParseUint(p, 10, 16)
	if err != nil || n == 0 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	if h == "" {
		return "", 0, errors.New("empty host")
	}
	return h, uint16(n), nil
}

func httpError(c net.Conn, code int, msg string) {
	body := msg + "\n"
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
}

// serveSOCKS handles one SOCKS5 connection.
func (t *Tree) serveSOCKS(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(t.o.HeaderTimeout))
	lim := &headLimit{r: c, n: maxHead}
	br := bufio.NewReaderSize(lim, 512)
	noAuth, err := readSOCKSGreeting(br)
	if err != nil {
		return
	}
	if !noAuth {
		c.Write([]byte{socksVersion, socksNoAcceptable})
		return
	}
	if _, err := c.Write([]byte{socksVersion, socksNoAuth}); err != nil {
		return
	}
	req, err := readSOCKSRequest(br)
	if err != nil {
		var se *socksError
		if errors.As(err, &se) {
			c.Write(socksReply(se.code))
		}
		return
	}
	lim.n = math.MaxInt64
	c.SetReadDeadline(time.Time{})
	host := req.name
	if host == "" {
		host = req.ip.String()
	}
	tg, up, ip, ok := t.open("socks5", host, req.port, func(code int, _ string) {
		rep := byte(socksGeneralFailure)
		switch code {
		case http.StatusForbidden:
			rep = socksNotAllowed
		case http.StatusBadGateway:
			rep = socksHostUnreachable
		}
		c.Write(socksReply(rep))
	})
	if !ok {
		return
	}
	if _, err := c.Write(socksReply(socksSucceeded)); err != nil {
		t.relayDone(tg, ip, up)
		return
	}
	t.relay(tg, ip, br, c, up, 0)
}
