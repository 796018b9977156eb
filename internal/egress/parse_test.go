package egress

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// clientHello returns the first TLS record(s) a Go client sends for sni.
func clientHello(t testing.TB, sni string) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		tls.Client(c1, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
	}()
	var out []byte
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c2, body); err != nil {
		t.Fatal(err)
	}
	out = append(append(out, hdr...), body...)
	c2.Close()
	c1.Close()
	<-done
	return out
}

// splitRecords re-frames one handshake record's body into records of at
// most n bytes.
func splitRecords(rec []byte, n int) []byte {
	body := rec[5:]
	var out []byte
	for len(body) > 0 {
		k := min(n, len(body))
		out = append(out, 0x16, rec[1], rec[2], byte(k>>8), byte(k))
		out = append(out, body[:k]...)
		body = body[k:]
	}
	return out
}

func TestSniffTLS(t *testing.T) {
	hello := clientHello(t, "Api.Example.com")
	kind, name, err := sniff(hello)
	if kind != sniffTLS || name != "Api.Example.com" || err != nil {
		t.Fatalf("sniff = %v %q %v", kind, name, err)
	}
	// Every prefix asks for more, never a wrong answer.
	for i := 1; i < len(hello); i++ {
		if _, name, err := sniff(hello[:i]); err != errNeedMore || name != "" {
			t.Fatalf("prefix %d: %q %v", i, name, err)
		}
	}
	// A ClientHello split over several records.
	for _, n := range []int{1, 7, 100} {
		if _, name, err := sniff(splitRecords(hello, n)); name != "Api.Example.com" || err != nil {
			t.Errorf("split %d: %q %v", n, name, err)
		}
	}
	// No SNI (an address as ServerName sends none).
	if _, name, err := sniff(clientHello(t, "203.0.113.1")); name != "" || err != nil {
		t.Errorf("no SNI: %q %v", name, err)
	}
	// Not a ClientHello.
	bad := append([]byte(nil), hello...)
	bad[5] = 2
	if _, _, err := sniff(bad); err == nil || err == errNeedMore {
		t.Errorf("ServerHello accepted: %v", err)
	}
}

func TestSniffHTTP(t *testing.T) {
	cases := []struct {
		in   string
		kind sniffKind
		name string
		err  bool
	}{
		{"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", sniffHTTP, "example.com", false},
		{"POST /x HTTP/1.1\r\nhost:  Example.COM:8080 \r\nA: b\r\n\r\nbody", sniffHTTP, "Example.COM", false},
		{"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n", sniffHTTP, "", false},
		{"GET / HTTP/1.1\r\nHost: 203.0.113.1\r\n\r\n", sniffHTTP, "", false},
		{"GET http://abs.example/p HTTP/1.1\r\n\r\n", sniffHTTP, "abs.example", false},
		{"GET / HTTP/1.0\r\n\r\n", sniffHTTP, "", false},
		{"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", sniffHTTP, "", true},
		{"GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", sniffHTTP, "", false},
		{"GET / SPDY\r\n\r\n", sniffHTTP, "", true},
		{"SSH-2.0-OpenSSH\r\n", sniffOther, "", false},
		{"\x00\x01binary", sniffOther, "", false},
	}
	for _, c := range cases {
		kind, name, err := sniff([]byte(c.in))
		if kind != c.kind || name != c.name || (err != nil) != c.err || err == errNeedMore {
			t.Errorf("sniff(%q) = %v %q %v", c.in, kind, name, err)
		}
	}
	for _, partial := range []string{"G", "GET", "GET / HTTP/1.1\r\nHost: a"} {
		if _, _, err := sniff([]byte(partial)); err != errNeedMore {
			t.Errorf("sniff(%q) = %v; want need more", partial, err)
		}
	}
	big := "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxPeek)
	if _, _, err := sniff([]byte(big)); err == nil || err == errNeedMore {
		t.Errorf("oversized head: %v", err)
	}
}

func TestReadSOCKSRequest(t *testing.T) {
	cases := []struct {
		in   []byte
		name string
		ip   string
		port uint16
		code int // -1: no socksError
	}{
		{[]byte{5, 1, 0, 1, 203, 0, 113, 1, 1, 187}, "", "203.0.113.1", 443, -1},
		{append([]byte{5, 1, 0, 3, 8}, append([]byte("api.test"), 0, 80)...), "api.test", "", 80, -1},
		{append([]byte{5, 1, 0, 3, 7}, append([]byte("1.2.3.4"), 0, 80)...), "", "1.2.3.4", 80, -1},
		{append(append([]byte{5, 1, 0, 4}, netip.MustParseAddr("2001:db8::1").AsSlice()...), 0, 22), "", "2001:db8::1", 22, -1},
		{append(append([]byte{5, 1, 0, 4}, netip.MustParseAddr("::ffff:10.0.0.1").AsSlice()...), 0, 22), "", "10.0.0.1", 22, -1},
		{[]byte{5, 2, 0, 1, 1, 2, 3, 4, 0, 80}, "", "", 0, socksCmdNotSupported},
		{[]byte{5, 1, 0, 2, 0, 0}, "", "", 0, socksAtypNotSupported},
		{[]byte{5, 1, 0, 1, 1, 2, 3, 4, 0, 0}, "", "", 0, socksGeneralFailure},
		{[]byte{5, 1, 0, 3, 0, 0, 80}, "", "", 0, socksGeneralFailure},
		{[]byte{4, 1, 0, 1}, "", "", 0, socksGeneralFailure},
	}
	for _, c := range cases {
		req, err := readSOCKSRequest(bytes.NewReader(c.in))
		var se *socksError
		if c.code >= 0 {
			if !errors.As(err, &se) || int(se.code) != c.code {
				t.Errorf("%x: err %v, want code %d", c.in, err, c.code)
			}
			continue
		}
		if err != nil || req.name != c.name || req.port != c.port || (c.ip != "" && req.ip != netip.MustParseAddr(c.ip)) {
			t.Errorf("%x = %+v %v", c.in, req, err)
		}
	}
	// Truncated input is an I/O error, not a reply code.
	if _, err := readSOCKSRequest(bytes.NewReader([]byte{5, 1, 0, 3, 9, 'a'})); err == nil {
		t.Errorf("truncated request accepted")
	} else if errors.As(err, new(*socksError)) {
		t.Errorf("truncated request got a reply code: %v", err)
	}
}

func TestParseDNSQuery(t *testing.T) {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, OpCode: 2})
	msg, _ := b.Finish()
	_, answerable, err := parseDNSQuery(msg)
	if !answerable || !errors.Is(err, errNotImplemented) {
		t.Errorf("opcode 2: %v %v", answerable, err)
	}
	tree := fuzzTree(t)
	out := tree.answerDNS(msg)
	var p dnsmessage.Parser
	if h, err := p.Start(out); err != nil || h.RCode != dnsmessage.RCodeNotImplemented || h.ID != 7 {
		t.Errorf("opcode 2 answer: %+v %v", h, err)
	}
	b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 8})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("a.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("b.test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, _ = b.Finish()
	out = tree.answerDNS(msg)
	if h, err := p.Start(out); err != nil || h.RCode != dnsmessage.RCodeFormatError {
		t.Errorf("two questions: %+v %v", h, err)
	}
}

// fuzzTree is a Tree with no listeners for calling answerDNS directly.
func fuzzTree(t testing.TB) *Tree {
	p, err := Compile([]string{"*.test", "api.example", "127.0.0.1"}, []string{"bad.test"})
	if err != nil {
		t.Fatal(err)
	}
	tr := Serve(Listeners{}, Options{
		Policy:     p,
		AnswerAAAA: true,
		Resolve: func(_ context.Context, host string) ([]netip.Addr, error) {
			if strings.HasPrefix(host, "meta") {
				return []netip.Addr{netip.MustParseAddr("169.254.169.254")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.MustParseAddr("2001:db8::1")}, nil
		},
	})
	t.Cleanup(func() { tr.Close() })
	return tr
}
