package egress

import (
	"net"
	"net/netip"
	"testing"
)

// Without a redirect there is no original destination to report other
// than the connection's own: SO_ORIGINAL_DST fails (no conntrack entry) or
// names the local address, never something else; a non-socket fails.
// (The redirect itself is exercised with the namespace's nftables rules in
// package sandbox.)
func TestOriginalDstWithoutRedirect(t *testing.T) {
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	if _, err := originalDst(p1); err == nil {
		t.Errorf("a pipe has an original destination")
	}
	l := listen(t)
	defer l.Close()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ap, err := originalDst(s)
	if err != nil {
		t.Logf("no conntrack entry: %v", err)
		return
	}
	if want := netip.MustParseAddrPort(s.LocalAddr().String()); ap != want {
		t.Errorf("original destination %v, want the local address %v", ap, want)
	}
}
