//go:build linux

package supervisor

import (
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/audit"
)

const connectClient = `import socket, sys
def connect(target):
    c = socket.create_connection(('127.0.0.1', 3128), timeout=5)
    c.sendall(('CONNECT %s HTTP/1.1\r\n\r\n' % target).encode())
    r = b''
    while b'\r\n\r\n' not in r:
        d = c.recv(1)
        if not d: break
        r += d
    if not r.startswith(b'HTTP/1.1 200'):
        return r.split(b'\r\n')[0].decode()
    c.sendall(b'ping'); d = c.recv(10); c.close(); return d.decode()
print(connect('127.0.0.1:' + sys.argv[1]))
print(connect('169.254.169.254:80'))
`

// The server's ProxyServer serves a launch with the configured lists: the
// child reaches the allowed host loopback port through the proxy, the
// metadata address is refused, and each is an audit record of layer
// network (the refusal a security violation; the close with its bytes).
func TestProxyServerServesAndAudits(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (or a self-mapped user namespace; see test/escape)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	cfg := baseConfig()
	cfg.AllowedNetworkDestinations = []string{ln.Addr().String()}
	var ps *ProxyServer
	s, fa := newSup(t, cfg, func(o *Options) {
		ps, err = NewProxyServer(cfg, o.Audit)
		if err != nil {
			t.Fatal(err)
		}
		o.Egress = ps
	})
	port := strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	st := start(t, s, agentA, specFor(t, "/usr/bin/python3", "-c", connectClient, port), capture())
	end := waitExit(t, s, agentA, st.Pid)
	out, errOut := output(t, s, agentA, st.Pid)
	if end.ExitCode == nil || *end.ExitCode != 0 || out != "ping\nHTTP/1.1 403 Forbidden\n" {
		t.Fatalf("child %+v: stdout %q stderr %q", end, out, errOut)
	}
	eventually(t, "the close record", func() bool { return len(fa.events(audit.EventNetworkClose, st.Pid)) == 1 })
	allowed := fa.events(audit.EventNetwork, st.Pid)
	if len(allowed) != 1 || allowed[0].Decision != "allow" || allowed[0].Layer != "network" || allowed[0].Agent != agentA ||
		allowed[0].Network.Via != "connect" || allowed[0].Network.IP != "127.0.0.1" || allowed[0].Network.Rule != ln.Addr().String() {
		t.Errorf("allowed records %+v", allowed)
	}
	cl := fa.events(audit.EventNetworkClose, st.Pid)[0]
	if cl.Network.BytesOut == nil || *cl.Network.BytesOut != 4 || *cl.Network.BytesIn != 4 {
		t.Errorf("close record %+v %+v", cl, cl.Network)
	}
	var refused []audit.Record
	for _, r := range fa.events(audit.EventSecurityViolation, st.Pid) {
		if r.Layer == "network" {
			refused = append(refused, r)
		}
	}
	if len(refused) != 1 || refused[0].Decision != "deny" || refused[0].Level != audit.LevelWarn ||
		refused[0].Network.IP != "169.254.169.254" || refused[0].Network.Port != 80 || !strings.Contains(refused[0].Reason, "metadata") {
		t.Errorf("refusal records %+v", refused)
	}
}

// A destination list that does not compile: the error names the key, the
// entry and the fix; FailedProxy refuses every launch.
func TestNewProxyServerBadEntry(t *testing.T) {
	cfg := baseConfig()
	cfg.AllowedNetworkDestinations = []string{"ok.example", "http://x/"}
	_, err := NewProxyServer(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), `allowedNetworkDestinations[1] "http://x/"`) || !strings.Contains(err.Error(), "fix the entry") {
		t.Fatalf("error %v", err)
	}
	if _, err := FailedProxy(err).Serve(nil, LaunchInfo{}); err == nil || !strings.Contains(err.Error(), "allowedNetworkDestinations[1]") {
		t.Fatalf("FailedProxy.Serve: %v", err)
	}
}

const connectMany = `import socket, sys
for i in range(int(sys.argv[2])):
    c = socket.create_connection(('127.0.0.1', 3128), timeout=5)
    c.sendall(('CONNECT 127.0.0.1:%s HTTP/1.1\r\n\r\n' % sys.argv[1]).encode())
    r = b''
    while b'\r\n\r\n' not in r:
        r += c.recv(1)
    assert r.startswith(b'HTTP/1.1 200'), r
    c.sendall(b'ping'); assert c.recv(10) == b'ping'; c.close()
print('done')
`

// Allowed connections past the tree's allowance are summarised: with an
// allowance of 2 records, 5 connections (10 records) write 2 on their own
// and one network_summarized record for the other 8, with their bytes,
// when the tree's proxy is closed.
func TestProxyServerSummarisesAllowedRecords(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (or a self-mapped user namespace; see test/escape)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	cfg := baseConfig()
	cfg.AllowedNetworkDestinations = []string{ln.Addr().String()}
	s, fa := newSup(t, cfg, func(o *Options) {
		ps, err := NewProxyServer(cfg, o.Audit)
		if err != nil {
			t.Fatal(err)
		}
		ps.AllowedRecords = 2
		o.Egress = ps
	})
	port := strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	st := start(t, s, agentA, specFor(t, "/usr/bin/python3", "-c", connectMany, port, "5"), capture())
	end := waitExit(t, s, agentA, st.Pid)
	if out, errOut := output(t, s, agentA, st.Pid); end.ExitCode == nil || *end.ExitCode != 0 || out != "done\n" {
		t.Fatalf("child %+v: %q %q", end, out, errOut)
	}
	eventually(t, "the summary", func() bool { return len(fa.events(audit.EventNetworkSummarized, st.Pid)) == 1 })
	own := len(fa.events(audit.EventNetwork, st.Pid)) + len(fa.events(audit.EventNetworkClose, st.Pid))
	sum := fa.events(audit.EventNetworkSummarized, st.Pid)[0]
	var out, in int64
	for _, r := range append(fa.events(audit.EventNetworkClose, st.Pid), sum) {
		out += *r.Network.BytesOut
		in += *r.Network.BytesIn
	}
	if own != 2 || sum.Count != 8 || out != 20 || in != 20 || sum.Agent != agentA || sum.Layer != "network" {
		t.Errorf("%d records on their own, summary %+v %+v; bytes %d/%d, want 2, count 8, 20/20", own, sum, sum.Network, out, in)
	}
}
