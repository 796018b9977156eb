//go:build linux

package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The network layer end to end (SPEC 3.11, 7.5): a child launched with
// allowedNetworkDestinations reaches the host only through the server's
// egress proxy, which dials what the lists allow and records every
// decision in the audit log.

// netProbe is the child: python3 from Debian, no third-party module.
//
//	http URL           urllib through HTTP_PROXY: the body, or "http CODE"
//	socks HOST PORT    a GET through ALL_PROXY (SOCKS5, by hand)
//	direct HOST PORT   a GET on a plain socket, ignoring every proxy variable
//	resolve NAME       getaddrinfo through the namespace's DNS
//	flood N HOST:PORT  N CONNECT requests through HTTP_PROXY, counts the 403s
const netProbe = `import os, socket, struct, sys, urllib.request, urllib.error
mode = sys.argv[1]
def get(c, host):
    c.settimeout(10)
    c.sendall(('GET / HTTP/1.0\r\nHost: %s\r\n\r\n' % host).encode())
    d = b''
    while True:
        b = c.recv(4096)
        if not b: break
        d += b
    return d.split(b'\r\n\r\n', 1)[-1].decode().strip() or 'closed'
try:
    if mode == 'http':
        print(urllib.request.urlopen(sys.argv[2], timeout=10).read().decode().strip())
    elif mode == 'socks':
        host, port = sys.argv[2], int(sys.argv[3])
        p = os.environ['ALL_PROXY'].rsplit(':', 1)
        c = socket.create_connection(('127.0.0.1', int(p[1])), timeout=10)
        c.sendall(b'\x05\x01\x00'); assert c.recv(2) == b'\x05\x00'
        c.sendall(b'\x05\x01\x00\x03' + bytes([len(host)]) + host.encode() + struct.pack('>H', port))
        r = c.recv(10)
        if r[1] != 0: print('socks refused %d' % r[1])
        else: print(get(c, host))
    elif mode == 'direct':
        print(get(socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=10), sys.argv[2]))
    elif mode == 'resolve':
        print(','.join(sorted(set(a[4][0] for a in socket.getaddrinfo(sys.argv[2], 80, socket.AF_INET)))))
    elif mode == 'flood':
        n, refused = int(sys.argv[2]), 0
        for i in range(n):
            c = socket.create_connection(('127.0.0.1', 3128), timeout=10)
            c.sendall(('CONNECT %s HTTP/1.1\r\n\r\n' % sys.argv[3]).encode())
            if c.recv(64).startswith(b'HTTP/1.1 403'): refused += 1
            c.close()
        print('refused %d of %d' % (refused, n))
except urllib.error.HTTPError as e:
    print('http %d' % e.code)
except Exception as e:
    print('failed %s: %s' % (type(e).__name__, e))
`

// hostHTTP serves "hello from NAME" on addr (a host loopback address) and
// counts the requests.
func hostHTTP(t *testing.T, addr, name string) (port int, hits func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		fmt.Fprintf(w, "hello from %s\n", name)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port, n.Load
}

// probeScript writes netProbe into e's working directory (an argument
// holding it would be refused by blockInjectionPatterns).
func probeScript(t *testing.T, e *testEnv) string {
	t.Helper()
	p := filepath.Join(e.work, "netprobe.py")
	if err := os.WriteFile(p, []byte(netProbe), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// probe runs netProbe in the server and returns its stdout, trimmed.
func (s *mcpServer) probe(args ...string) string {
	s.t.Helper()
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/usr/bin/python3", "args": append([]string{probeScript(s.t, s.env)}, args...), "timeout": 60000}, &r)
	if r.ExitCode == nil || *r.ExitCode != 0 {
		s.t.Fatalf("probe %q: %+v stderr %s", args, r.status, r.Stderr)
	}
	return strings.TrimSpace(r.Stdout)
}

// networkRecords returns the audit records of layer network with event ev.
func networkRecords(t *testing.T, e *testEnv, ev string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, r := range e.auditRecords(t) {
		if r["layer"] == "network" && r["event"] == ev {
			out = append(out, r)
		}
	}
	return out
}

func netField(r map[string]any, k string) any {
	n, _ := r["network"].(map[string]any)
	return n[k]
}

// Through the production binary: HTTP_PROXY and SOCKS5 reach an allowed
// port of the host's loopback; 127.0.0.2 and the metadata address are
// refused (403, nothing reaches them) and recorded as security violations
// naming the destination and why; the allowed request has its records,
// the close with its bytes.
func TestEgressProxyE2E(t *testing.T) {
	t.Parallel()
	needPython(t)
	port, hits := hostHTTP(t, "127.0.0.1:0", "host")
	port2, hits2 := hostHTTP(t, "127.0.0.2:0", "127.0.0.2")
	e := newEnv(t)
	cfg := e.config("/usr/bin/python3")
	cfg["allowedNetworkDestinations"] = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	s := startServer(t, e, cfg)

	if got := s.probe("http", fmt.Sprintf("http://127.0.0.1:%d/", port)); got != "hello from host" {
		t.Errorf("through HTTP_PROXY: %q", got)
	}
	if got := s.probe("socks", "127.0.0.1", fmt.Sprint(port)); got != "hello from host" {
		t.Errorf("through ALL_PROXY (SOCKS5): %q", got)
	}
	if got := s.probe("direct", "127.0.0.1", fmt.Sprint(port)); !strings.HasPrefix(got, "failed ConnectionRefusedError") {
		t.Errorf("a direct connection to 127.0.0.1 reaches the child's own loopback, want refused: %q", got)
	}
	if got := s.probe("http", fmt.Sprintf("http://127.0.0.2:%d/", port2)); got != "http 403" {
		t.Errorf("127.0.0.2 through HTTP_PROXY: %q, want http 403", got)
	}
	if got := s.probe("http", "http://169.254.169.254/latest/meta-data/"); got != "http 403" {
		t.Errorf("the metadata address through HTTP_PROXY: %q, want http 403", got)
	}
	if n := hits(); n != 2 {
		t.Errorf("the allowed server got %d requests, want 2", n)
	}
	if n := hits2(); n != 0 {
		t.Errorf("ESCAPE: 127.0.0.2 got %d requests", n)
	}
	s.close()

	allowed := networkRecords(t, e, "network")
	closes := networkRecords(t, e, "network_close")
	if len(allowed) != 2 || len(closes) != 2 {
		t.Fatalf("%d network and %d network_close records, want 2 and 2: %v", len(allowed), len(closes), allowed)
	}
	for _, r := range append(allowed, closes...) {
		if r["agent"] == nil || r["pid"] == nil || r["decision"] != "allow" || netField(r, "ip") != "127.0.0.1" || netField(r, "port") != float64(port) {
			t.Errorf("allowed record %v", r)
		}
	}
	if v := []any{netField(allowed[0], "via"), netField(allowed[1], "via")}; v[0] != "http" || v[1] != "socks5" {
		t.Errorf("vias %v, want http then socks5", v)
	}
	for _, r := range closes {
		if in, _ := netField(r, "bytesIn").(float64); in < 20 {
			t.Errorf("close record without the bytes received: %v", r)
		}
	}
	var meta, lo2 bool
	for _, r := range networkRecords(t, e, "security_violation") {
		if r["decision"] != "deny" || r["level"] != "warn" || r["reason"] == "" {
			t.Errorf("refusal record %v", r)
		}
		switch {
		case netField(r, "ip") == "169.254.169.254" && netField(r, "port") == float64(80) && strings.Contains(r["reason"].(string), "metadata"):
			meta = true
		case netField(r, "ip") == "127.0.0.2" && netField(r, "port") == float64(port2):
			lo2 = true
		}
	}
	if !meta || !lo2 {
		t.Errorf("refusal records: metadata %v, 127.0.0.2 %v: %v", meta, lo2, networkRecords(t, e, "security_violation"))
	}
	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}

// A flood of refused connections from one child: the other tool calls keep
// answering while it runs, and the audit log holds the first refusals one
// by one and one summary for the rest (SPEC 7.2), not 10,000 records.
func TestEgressRefusalFloodE2E(t *testing.T) {
	t.Parallel()
	needPython(t)
	port, _ := hostHTTP(t, "127.0.0.1:0", "host")
	e := newEnv(t)
	cfg := e.config("/usr/bin/python3", "/bin/echo")
	cfg["allowedNetworkDestinations"] = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	cfg["maxLaunchesPerMinute"] = 20
	s := startServer(t, e, cfg)
	const n = 10000
	r := s.start(map[string]any{"executable": "/usr/bin/python3", "args": []string{probeScript(t, e), "flood", fmt.Sprint(n), "127.0.0.2:9"}, "captureOutput": true})
	calls := 0
	for {
		var st status
		s.ok("process_wait", map[string]any{"pid": r.Pid, "timeout": 200}, &st)
		if st.State == "exited" {
			break
		}
		var list map[string]any
		s.ok("process_list", map[string]any{}, &list) // fails the test if it does not answer
		calls++
	}
	var er runResult
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"answering"}}, &er)
	if strings.TrimSpace(er.Stdout) != "answering" {
		t.Fatalf("a launch after the flood: %+v", er)
	}
	out := s.output(map[string]any{"pid": r.Pid})
	if strings.TrimSpace(out.Stdout) != fmt.Sprintf("refused %d of %d", n, n) {
		t.Fatalf("flood: %q %q", out.Stdout, out.Stderr)
	}
	t.Logf("%d other tool calls answered during the flood", calls)
	s.close()
	one := len(networkRecords(t, e, "security_violation"))
	var summarised float64
	for _, rec := range e.auditRecords(t) {
		if rec["event"] == "denials_summarized" {
			c, _ := rec["count"].(float64)
			summarised += c
		}
	}
	if one > 3*20 || int(summarised)+one < n { // 20 per window (maxLaunchesPerMinute); a slow host may open a second or third
		t.Fatalf("%d refusal records one by one and %v summarised, want at most a few windows' allowance and the rest summarised (%d in all)", one, summarised, n)
	}
	t.Logf("%d refusals recorded one by one, %v summarised", one, summarised)
}

var egressTestBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mcp-process-e2e-egress-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, "mcp-process")
	cmd := exec.Command("go", "build", "-tags", "egresstest", "-o", out, "github.com/mcp-process/mcp-process/cmd/mcp-process")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags egresstest: %v\n%s", err, b)
	}
	return out, nil
})

// Transparent capture, through a test build whose proxy resolves
// good.e2e.test and bad.e2e.test to 203.0.113.10 and dials that address on
// the host's loopback (cmd/mcp-process/egress_testhook.go; a release build
// has no such hook): a program that ignores every proxy variable and
// connects to an allowed name resolved by the namespace's DNS reaches the
// host's server; the blocked name wins over the allowed wildcard on every
// path (DNS, HTTP proxy, SOCKS5).
func TestEgressTransparentE2E(t *testing.T) {
	t.Parallel()
	needPython(t)
	bin, err := egressTestBin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(bin)) })
	port, hits := hostHTTP(t, "127.0.0.1:0", "host")
	e := newEnv(t)
	e.bin = bin
	e.env = []string{"MCP_PROCESS_TEST_EGRESS_HOSTS=good.e2e.test=203.0.113.10,bad.e2e.test=203.0.113.10"}
	cfg := e.config("/usr/bin/python3")
	cfg["allowedNetworkDestinations"] = []string{"*.e2e.test"}
	cfg["blockedNetworkDestinations"] = []string{"bad.e2e.test"}
	s := startServer(t, e, cfg)
	var pol struct {
		Layers map[string]string `json:"layers"`
	}
	s.ok("process_get_policy", map[string]any{}, &pol)
	if !strings.Contains(pol.Layers["network"], "transparent capture: nftables") {
		t.Skipf("no transparent capture on this host: %s", pol.Layers["network"])
	}
	p := fmt.Sprint(port)
	if got := s.probe("resolve", "good.e2e.test"); got != "203.0.113.10" {
		t.Errorf("good.e2e.test resolved in the child to %q", got)
	}
	if got := s.probe("direct", "good.e2e.test", p); got != "hello from host" {
		t.Errorf("transparent, by name: %q", got)
	}
	if got := s.probe("resolve", "bad.e2e.test"); !strings.HasPrefix(got, "failed gaierror") {
		t.Errorf("bad.e2e.test (blocked) resolved in the child: %q", got)
	}
	if got := s.probe("http", "http://bad.e2e.test:"+p+"/"); got != "http 403" {
		t.Errorf("bad.e2e.test through HTTP_PROXY: %q", got)
	}
	if got := s.probe("socks", "bad.e2e.test", p); got != "socks refused 2" {
		t.Errorf("bad.e2e.test through SOCKS5: %q", got)
	}
	if got := s.probe("http", "http://good.e2e.test:"+p+"/"); got != "hello from host" {
		t.Errorf("good.e2e.test through HTTP_PROXY: %q", got)
	}
	if n := hits(); n != 2 {
		t.Errorf("the host's server got %d requests, want 2", n)
	}
	s.close()
	var transparent bool
	for _, r := range networkRecords(t, e, "network") {
		transparent = transparent || (netField(r, "via") == "transparent" && netField(r, "destination") == "good.e2e.test" && netField(r, "rule") == "*.e2e.test")
	}
	if !transparent {
		t.Errorf("no transparent allow record: %v", networkRecords(t, e, "network"))
	}
	vias := map[any]bool{}
	for _, r := range networkRecords(t, e, "security_violation") {
		if netField(r, "destination") == "bad.e2e.test" && netField(r, "rule") == "bad.e2e.test" {
			vias[netField(r, "via")] = true
		}
	}
	if !vias["dns"] || !vias["http"] || !vias["socks5"] {
		t.Errorf("blocked-name refusals by via %v, want dns, http and socks5: %v", vias, networkRecords(t, e, "security_violation"))
	}
}
