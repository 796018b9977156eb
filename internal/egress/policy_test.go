package egress

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCompileErrors(t *testing.T) {
	bad := map[string]string{
		"":                               "empty",
		" example.com":                   "spaces",
		"example.com:":                   "empty port",
		"example.com:0":                  "port",
		"example.com:65536":              "port",
		"example.com:http":               "port",
		"[::1":                           "without ']'",
		"[::1]x":                         "after ']'",
		"[1.2.3.4]:80":                   "IPv6 addresses only",
		"10.0.0.0/33":                    "CIDR",
		"1.2.3.256":                      "IPv4",
		"foo*.example.com":               "wildcard",
		"*":                              "wildcard",
		"*.*.example.com":                "not allowed",
		"a..b":                           "",
		"exa mple.com":                   "",
		"fe80::1%eth0":                   "zone",
		"::ffff:1.2.3.4/128":             "IPv4-mapped",
		":443":                           "no host",
		"2001:db8::1::2":                 "IPv6",
		strings.Repeat("a", 64) + ".com": "63",
	}
	for in, want := range bad {
		_, err := Compile([]string{in}, nil)
		if err == nil {
			t.Errorf("Compile(%q) accepted", in)
			continue
		}
		if !strings.Contains(err.Error(), "allowedNetworkDestinations[0]") || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile(%q) = %v; want the key and %q", in, err, want)
		}
	}
	if _, err := Compile(nil, []string{"ok.example", "bad:port"}); err == nil || !strings.Contains(err.Error(), "blockedNetworkDestinations[1]") {
		t.Errorf("blocked list error = %v", err)
	}
}

func TestDecide(t *testing.T) {
	p, err := Compile([]string{
		"api.example.com",
		"*.github.com",
		"pypi.org:443",
		"203.0.113.7",
		"198.51.100.0/24:8443",
		"[2001:db8::1]:443",
		"2001:db8:1::/48",
		"Bücher.example",
		"Trailing.Example.",
		"127.0.0.1:5432",
		"169.254.0.0/16",
		"10.0.0.0/8",
		"localhost",
		"[fd00:ec2::254]",
		"*.evil.example",
	}, []string{
		"secret.github.com",
		"*.evil.example",
		"203.0.113.7:25",
		"10.9.0.0/16",
	})
	if err != nil {
		t.Fatal(err)
	}
	none := netip.Addr{}
	a := netip.MustParseAddr
	cases := []struct {
		name string
		ip   netip.Addr
		port uint16
		ok   bool
		rule string
	}{
		// names before resolution
		{"api.example.com", none, 443, true, "api.example.com"},
		{"API.Example.COM.", none, 80, true, "api.example.com"},
		{"other.example.com", none, 443, false, RuleDefault},
		{"x.example.com.attacker.net", none, 443, false, RuleDefault},
		// wildcard: subdomains at any depth, not the apex
		{"raw.github.com", none, 443, true, "*.github.com"},
		{"a.b.c.github.com", none, 22, true, "*.github.com"},
		{"github.com", none, 443, false, RuleDefault},
		{"evilgithub.com", none, 443, false, RuleDefault},
		// blocked beats an allowed wildcard
		{"secret.github.com", none, 443, false, "secret.github.com"},
		{"Secret.GitHub.com.", none, 443, false, "secret.github.com"},
		{"x.evil.example", none, 443, false, "*.evil.example"},
		// ports
		{"pypi.org", none, 443, true, "pypi.org:443"},
		{"pypi.org", none, 80, false, RuleDefault},
		// IDN
		{"bücher.example", none, 443, true, "Bücher.example"},
		{"xn--bcher-kva.example", none, 443, true, "Bücher.example"},
		{"BÜCHER.example.", none, 443, true, "Bücher.example"},
		{"trailing.example", none, 1, true, "Trailing.Example."},
		// addresses
		{"", a("203.0.113.7"), 443, true, "203.0.113.7"},
		{"", a("203.0.113.7"), 25, false, "203.0.113.7:25"},
		{"", a("::ffff:203.0.113.7"), 443, true, "203.0.113.7"},
		{"203.0.113.7", none, 443, true, "203.0.113.7"},
		{"", a("203.0.113.8"), 443, false, RuleDefault},
		{"", a("198.51.100.200"), 8443, true, "198.51.100.0/24:8443"},
		{"", a("198.51.100.200"), 443, false, RuleDefault},
		{"", a("2001:db8::1"), 443, true, "[2001:db8::1]:443"},
		{"", a("2001:db8::1"), 80, false, RuleDefault},
		{"[2001:db8::1]", none, 443, true, "[2001:db8::1]:443"},
		{"", a("2001:db8:1:ffff::9"), 80, true, "2001:db8:1::/48"},
		// a name that resolves to an allowed public address
		{"api.example.com", a("93.184.216.34"), 443, true, "api.example.com"},
		// an address entry allows that address whatever the name
		{"not-listed.example", a("203.0.113.7"), 443, true, "203.0.113.7"},
		// loopback: only by an explicit address entry, never by a name entry
		{"", a("127.0.0.1"), 5432, true, "127.0.0.1:5432"},
		{"", a("127.0.0.1"), 5433, false, RuleDefault},
		{"", a("127.0.0.2"), 5432, false, RuleDefault},
		{"localhost", none, 80, true, "localhost"},
		{"localhost", a("127.0.0.1"), 80, false, RuleDefault},
		{"", a("::1"), 5432, false, RuleDefault},
		// metadata only by the exact address, not by a covering CIDR
		{"", a("169.254.1.1"), 80, true, "169.254.0.0/16"},
		{"", a("169.254.169.254"), 80, false, RuleDefault},
		{"api.example.com", a("169.254.169.254"), 80, false, RuleDefault},
		{"", a("fd00:ec2::254"), 80, true, "[fd00:ec2::254]"},
		{"", a("::ffff:169.254.169.254"), 80, false, RuleDefault},
		// private ranges
		{"", a("10.1.2.3"), 80, true, "10.0.0.0/8"},
		{"", a("10.9.2.3"), 80, false, "10.9.0.0/16"},
		{"api.example.com", a("10.9.2.3"), 443, false, "10.9.0.0/16"},
		{"api.example.com", a("192.168.1.1"), 443, false, RuleDefault},
		{"api.example.com", a("172.16.0.1"), 443, false, RuleDefault},
		{"api.example.com", a("100.64.0.1"), 443, false, RuleDefault},
		{"api.example.com", a("fc00::1"), 443, false, RuleDefault},
		{"api.example.com", a("fe80::1"), 443, false, RuleDefault},
		{"api.example.com", a("0.0.0.0"), 443, false, RuleDefault},
		{"api.example.com", a("::"), 443, false, RuleDefault},
		{"api.example.com", a("224.0.0.1"), 443, false, RuleDefault},
		{"api.example.com", a("ff02::1"), 443, false, RuleDefault},
		{"api.example.com", a("64:ff9b::a9fe:a9fe"), 443, false, RuleDefault},
		{"api.example.com", a("2002:a9fe:a9fe::1"), 443, false, RuleDefault},
		// a name blocked by name stays blocked whatever its address
		{"secret.github.com", a("203.0.113.7"), 443, false, "secret.github.com"},
		// malformed names
		{"bad name", none, 443, false, RuleDefault},
		{"", none, 443, false, RuleDefault},
		{"1.2.3.4", a("5.6.7.8"), 443, false, RuleDefault},
	}
	for _, c := range cases {
		d := p.Decide(c.name, c.ip, c.port)
		if d.Allowed != c.ok || d.Rule != c.rule || d.Reason == "" {
			t.Errorf("Decide(%q, %v, %d) = %+v; want allowed=%v rule=%q", c.name, c.ip, c.port, d, c.ok, c.rule)
		}
	}
}

func TestDecideEmptyAndNil(t *testing.T) {
	p, err := Compile(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Decide("example.com", netip.MustParseAddr("93.184.216.34"), 443); d.Allowed {
		t.Errorf("empty policy allowed %+v", d)
	}
	var nilp *Policy
	if d := nilp.Decide("example.com", netip.Addr{}, 443); d.Allowed {
		t.Errorf("nil policy allowed %+v", d)
	}
}

func TestMetadataNeedsExactEntry(t *testing.T) {
	for _, allow := range []string{"0.0.0.0/0", "169.254.0.0/16", "169.254.169.0/24", "::/0"} {
		p, err := Compile([]string{allow}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d := p.Decide("", netip.MustParseAddr("169.254.169.254"), 80); d.Allowed {
			t.Errorf("%s allowed the metadata address: %+v", allow, d)
		}
	}
	p, _ := Compile([]string{"169.254.169.254:80"}, nil)
	if d := p.Decide("", netip.MustParseAddr("169.254.169.254"), 80); !d.Allowed {
		t.Errorf("exact entry refused: %+v", d)
	}
}
