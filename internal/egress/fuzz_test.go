package egress

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// FuzzCompileDecide: Compile never panics; an entry both allowed and
// blocked never allows; the metadata address is only allowed by an entry
// naming exactly it; a loopback address is never allowed by a name entry.
func FuzzCompileDecide(f *testing.F) {
	for _, s := range []struct {
		entry, name, ip string
		port            uint16
	}{
		{"*.example.com", "a.example.com", "", 443},
		{"example.com:443", "EXAMPLE.com.", "93.184.216.34", 443},
		{"10.0.0.0/8:22", "", "10.1.2.3", 22},
		{"[2001:db8::1]:443", "", "2001:db8::1", 443},
		{"169.254.0.0/16", "", "169.254.169.254", 80},
		{"bücher.example", "xn--bcher-kva.example", "", 80},
		{"localhost", "localhost", "127.0.0.1", 80},
		{"[::ffff:1.2.3.4]", "", "::ffff:1.2.3.4", 1},
	} {
		f.Add(s.entry, s.name, s.ip, s.port)
	}
	f.Fuzz(func(t *testing.T, entry, name, ipText string, port uint16) {
		ip, _ := netip.ParseAddr(ipText)
		p, err := Compile([]string{entry}, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "allowedNetworkDestinations[0]") {
				t.Fatalf("error does not name the entry: %v", err)
			}
			return
		}
		d := p.Decide(name, ip, port)
		if d.Rule == "" || d.Reason == "" {
			t.Fatalf("empty rule or reason: %+v", d)
		}
		u := ip.Unmap()
		if d.Allowed && isMetadata(u) {
			e := p.allowed[0]
			if e.kind != kindPrefix || e.prefix.Bits() != u.BitLen() {
				t.Fatalf("metadata %s allowed by %q", u, entry)
			}
		}
		if d.Allowed && u.IsLoopback() && p.allowed[0].kind != kindPrefix {
			t.Fatalf("loopback %s allowed by name entry %q", u, entry)
		}
		both, err := Compile([]string{entry}, []string{entry})
		if err != nil {
			t.Fatalf("compiled once, not twice: %v", err)
		}
		if d := both.Decide(name, ip, port); d.Allowed {
			t.Fatalf("blocked entry %q allowed %q %s: %+v", entry, name, ip, d)
		}
	})
}

// FuzzSniff: the SNI/Host extraction never panics and only returns
// hostnames.
func FuzzSniff(f *testing.F) {
	f.Add(clientHello(f, "api.example.com"))
	f.Add(splitRecords(clientHello(f, "x.test"), 50))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: example.com:80\r\n\r\n"))
	f.Add([]byte("GET http://a.example/ HTTP/1.1\r\n\r\n"))
	f.Add([]byte("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > maxPeek {
			b = b[:maxPeek]
		}
		_, name, err := sniff(b)
		if name != "" {
			if err != nil {
				t.Fatalf("name %q with error %v", name, err)
			}
			if _, ok := CanonicalName(name); !ok {
				t.Fatalf("not a hostname: %q", name)
			}
		}
	})
}

// FuzzSOCKS: the SOCKS5 parsers never panic; an accepted request has a
// destination and a port.
func FuzzSOCKS(f *testing.F) {
	f.Add([]byte{5, 1, 0, 5, 1, 0, 1, 203, 0, 113, 1, 1, 187})
	f.Add(append([]byte{5, 2, 0, 2, 5, 1, 0, 3, 8}, append([]byte("api.test"), 0, 80)...))
	f.Add([]byte{5, 1, 0, 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		if _, err := readSOCKSGreeting(r); err != nil {
			return
		}
		req, err := readSOCKSRequest(r)
		if err != nil {
			var se *socksError
			if errors.As(err, &se) && se.code == socksSucceeded {
				t.Fatalf("error with success code: %v", err)
			}
			return
		}
		if req.port == 0 || (req.name == "") == !req.ip.IsValid() {
			t.Fatalf("bad request accepted: %+v", req)
		}
	})
}

// FuzzDNS: any datagram gets no answer or a well-formed answer with the
// query's ID; a refused name never gets an address.
func FuzzDNS(f *testing.F) {
	for _, q := range []struct {
		name string
		typ  dnsmessage.Type
	}{{"a.test.", dnsmessage.TypeA}, {"bad.test.", dnsmessage.TypeAAAA}, {"meta.test.", dnsmessage.TypeA}, {"x.other.", dnsmessage.TypeMX}} {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 99, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(q.name), Type: q.typ, Class: dnsmessage.ClassINET})
		msg, _ := b.Finish()
		f.Add(msg)
	}
	f.Add([]byte{0, 1, 2})
	tree := fuzzTree(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		out := tree.answerDNS(msg)
		if out == nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(out)
		if err != nil {
			t.Fatalf("unparseable answer: %v", err)
		}
		if len(msg) >= 2 && h.ID != uint16(msg[0])<<8|uint16(msg[1]) || !h.Response {
			t.Fatalf("answer header %+v", h)
		}
		qs, err := p.AllQuestions()
		if err != nil {
			t.Fatalf("answer questions: %v", err)
		}
		answers, err := p.AllAnswers()
		if err != nil {
			t.Fatalf("answer records: %v", err)
		}
		for _, q := range qs {
			name, _ := CanonicalName(q.Name.String())
			if len(answers) > 0 && tree.o.Policy.anyPortNameAllowed(name).Allowed == false {
				t.Fatalf("refused name %q answered", q.Name)
			}
		}
		for _, a := range answers {
			if a.Header.Type == dnsmessage.TypeA && isMetadata(netip.AddrFrom4(a.Body.(*dnsmessage.AResource).A)) {
				t.Fatalf("metadata address answered")
			}
		}
	})
}
