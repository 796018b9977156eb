package egress

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// RuleDefault is Decision.Rule when no entry decided: the destination is
// not in allowedNetworkDestinations, or it is in a range refused by default.
const RuleDefault = "default"

// Decision is the outcome of Policy.Decide.
type Decision struct {
	Allowed bool
	// Rule is the entry that decided, as written in the configuration, or
	// RuleDefault.
	Rule string
	// Reason says why, in words for a person.
	Reason string
}

type entryKind uint8

const (
	kindHost     entryKind = iota // exact hostname
	kindWildcard                  // *.suffix: subdomains of suffix, any depth
	kindPrefix                    // an address (full-length prefix) or a CIDR
)

type entry struct {
	raw    string
	kind   entryKind
	host   string // kindHost: the name; kindWildcard: ".suffix"
	prefix netip.Prefix
	port   uint16 // 0: every port
}

// Policy is a compiled allowedNetworkDestinations + blockedNetworkDestinations.
// It is immutable and safe for concurrent use.
type Policy struct {
	allowed []entry
	blocked []entry
}

// Compile parses the two lists. An error names the bad entry and why.
func Compile(allowed, blocked []string) (*Policy, error) {
	p := &Policy{}
	for i, s := range allowed {
		e, err := parseEntry(s)
		if err != nil {
			return nil, fmt.Errorf("allowedNetworkDestinations[%d] %q: %w", i, s, err)
		}
		p.allowed = append(p.allowed, e)
	}
	for i, s := range blocked {
		e, err := parseEntry(s)
		if err != nil {
			return nil, fmt.Errorf("blockedNetworkDestinations[%d] %q: %w", i, s, err)
		}
		p.blocked = append(p.blocked, e)
	}
	return p, nil
}

// parseEntry parses one destination: HOST, HOST:PORT, [IPv6]:PORT, an
// address, a CIDR block, or *.suffix, each with an optional port.
func parseEntry(s string) (entry, error) {
	e := entry{raw: s}
	t := strings.TrimSpace(s)
	if t == "" {
		return e, fmt.Errorf("empty entry")
	}
	if t != s {
		return e, fmt.Errorf("leading or trailing spaces; write %q", t)
	}
	hostPart, portPart, err := splitEntry(t)
	if err != nil {
		return e, err
	}
	// More than one ':' without brackets: an IPv6 address or CIDR, no port.
	if portPart != "" {
		n, err := strconv.ParseUint(portPart, 10, 16)
		if err != nil || n == 0 || portPart[0] == '+' || portPart[0] == '0' {
			return e, fmt.Errorf("port %q is not a number from 1 to 65535", portPart)
		}
		e.port = uint16(n)
	}
	if hostPart == "" {
		return e, fmt.Errorf("no host before the port")
	}
	if isAddr, err := e.setAddress(hostPart); isAddr || err != nil {
		return e, err
	}
	return e, e.setName(hostPart)
}

// splitEntry splits a trimmed entry into its host and port (empty: none).
// An IPv6 address takes a port only in brackets; brackets hold only IPv6.
func splitEntry(t string) (hostPart, portPart string, err error) {
	hostPart, portPart = t, ""
	if strings.HasPrefix(t, "[") {
		end := strings.IndexByte(t, ']')
		if end < 0 {
			return "", "", fmt.Errorf("'[' without ']'; write an IPv6 address as [2001:db8::1]:443")
		}
		hostPart = t[1:end]
		rest := t[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", fmt.Errorf("unexpected %q after ']'; expected :PORT", rest)
			}
			portPart = rest[1:]
			if portPart == "" {
				return "", "", fmt.Errorf("empty port after ':'")
			}
		}
		if !strings.Contains(hostPart, ":") {
			return "", "", fmt.Errorf("brackets are for IPv6 addresses only")
		}
	} else if strings.Count(t, ":") == 1 {
		i := strings.IndexByte(t, ':')
		hostPart, portPart = t[:i], t[i+1:]
		if portPart == "" {
			return "", "", fmt.Errorf("empty port after ':'")
		}
	}
	return hostPart, portPart, nil
}

// setAddress sets e to hostPart when it is an address or a CIDR block
// (isAddr), and refuses what is an attempt at one that does not parse (a
// zone, IPv4-mapped IPv6, a bad IPv6 address, a numeric non-IPv4). It
// returns false, nil for a name.
func (e *entry) setAddress(hostPart string) (isAddr bool, err error) {
	if strings.Contains(hostPart, "/") {
		pfx, err := netip.ParsePrefix(hostPart)
		if err != nil {
			return false, fmt.Errorf("not a CIDR block: %v", err)
		}
		if pfx.Addr().Zone() != "" {
			return false, fmt.Errorf("an address with a zone (%%) is not supported")
		}
		if pfx.Addr().Is4In6() {
			return false, fmt.Errorf("IPv4-mapped IPv6 is not supported; write the IPv4 form")
		}
		e.kind, e.prefix = kindPrefix, pfx.Masked()
		return true, nil
	}
	if a, err := netip.ParseAddr(hostPart); err == nil {
		if a.Zone() != "" {
			return false, fmt.Errorf("an address with a zone (%%) is not supported")
		}
		a = a.Unmap()
		e.kind, e.prefix = kindPrefix, netip.PrefixFrom(a, a.BitLen())
		return true, nil
	} else if strings.Contains(hostPart, ":") {
		return false, fmt.Errorf("not an IPv6 address: %v", err)
	}
	if looksNumeric(hostPart) {
		return false, fmt.Errorf("not an IPv4 address (four numbers from 0 to 255)")
	}
	return false, nil
}

// setName sets e to hostPart as an exact hostname or a *.suffix wildcard,
// in canonical form.
func (e *entry) setName(hostPart string) error {
	if strings.HasPrefix(hostPart, "*.") {
		name, err := canonicalName(hostPart[2:])
		if err != nil {
			return err
		}
		e.kind, e.host = kindWildcard, "."+name
		return nil
	}
	if strings.Contains(hostPart, "*") {
		return fmt.Errorf("a wildcard must be the whole first label, as in *.example.com")
	}
	name, err := canonicalName(hostPart)
	if err != nil {
		return err
	}
	e.kind, e.host = kindHost, name
	return nil
}

// looksNumeric reports whether s is made of digits and dots only, i.e. an
// attempt at an IPv4 address that did not parse (a name whose last label is
// numeric is not a valid hostname either).
func looksNumeric(s string) bool {
	s = strings.TrimSuffix(s, ".")
	last := s[strings.LastIndexByte(s, '.')+1:]
	if last == "" {
		return false
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var idnaProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(false))

// canonicalName lowercases a hostname, drops one trailing dot and converts
// an internationalised name to its punycode (A-label) form. It refuses what
// is not a hostname.
func canonicalName(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", fmt.Errorf("empty hostname")
	}
	if len(s) > 4*253 {
		// Checked before IDNA conversion, whose cost grows with the
		// square of a label's length.
		return "", fmt.Errorf("hostname longer than 253 characters")
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("not valid UTF-8")
	}
	a, err := idnaProfile.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("not a valid hostname: %v", err)
	}
	a = strings.ToLower(a)
	if len(a) > 253 {
		return "", fmt.Errorf("hostname longer than 253 characters")
	}
	for _, label := range strings.Split(a, ".") {
		if label == "" {
			return "", fmt.Errorf("empty label (two dots in a row)")
		}
		if len(label) > 63 {
			return "", fmt.Errorf("label longer than 63 characters")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", fmt.Errorf("character %q is not allowed in a hostname", c)
			}
		}
	}
	return a, nil
}

// CanonicalName is the form in which Decide compares names (lower case, no
// trailing dot, punycode). ok is false for a string that is not a hostname.
func CanonicalName(s string) (string, bool) {
	n, err := canonicalName(s)
	return n, err == nil
}

func (e *entry) portMatches(port uint16) bool { return e.port == 0 || e.port == port }

func (e *entry) matchesName(name string, port uint16) bool {
	if !e.portMatches(port) {
		return false
	}
	switch e.kind {
	case kindHost:
		return name == e.host
	case kindWildcard:
		return len(name) > len(e.host) && strings.HasSuffix(name, e.host)
	}
	return false
}

func (e *entry) matchesAddr(ip netip.Addr, port uint16) bool {
	return e.kind == kindPrefix && e.portMatches(port) && e.prefix.Contains(ip)
}

// Special ranges, refused unless an address entry covers the address.
var (
	metadataAddrs = []netip.Addr{
		netip.MustParseAddr("169.254.169.254"),
		netip.MustParseAddr("fd00:ec2::254"),
	}
	specialRanges = []struct {
		p    netip.Prefix
		what string
	}{
		{netip.MustParsePrefix("0.0.0.0/8"), "unspecified (\"this network\") address"},
		{netip.MustParsePrefix("127.0.0.0/8"), "loopback address"},
		{netip.MustParsePrefix("169.254.0.0/16"), "link-local address"},
		{netip.MustParsePrefix("10.0.0.0/8"), "private address"},
		{netip.MustParsePrefix("172.16.0.0/12"), "private address"},
		{netip.MustParsePrefix("192.168.0.0/16"), "private address"},
		{netip.MustParsePrefix("100.64.0.0/10"), "shared (CGNAT) address"},
		{netip.MustParsePrefix("224.0.0.0/4"), "multicast address"},
		{netip.MustParsePrefix("240.0.0.0/4"), "reserved or broadcast address"},
		{netip.MustParsePrefix("::/128"), "unspecified address"},
		{netip.MustParsePrefix("::1/128"), "loopback address"},
		{netip.MustParsePrefix("fe80::/10"), "link-local address"},
		{netip.MustParsePrefix("fc00::/7"), "private (unique local) address"},
		{netip.MustParsePrefix("ff00::/8"), "multicast address"},
		{netip.MustParsePrefix("64:ff9b::/96"), "NAT64 address (embeds an IPv4 address)"},
		{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64 address (embeds an IPv4 address)"},
		{netip.MustParsePrefix("2002::/16"), "6to4 address (embeds an IPv4 address)"},
		{netip.MustParsePrefix("::/96"), "IPv4-compatible address"},
	}
)

func isMetadata(ip netip.Addr) bool {
	for _, m := range metadataAddrs {
		if ip == m {
			return true
		}
	}
	return false
}

// specialRange names the default-refused range ip is in, or "".
func specialRange(ip netip.Addr) string {
	if isMetadata(ip) {
		return "cloud metadata address"
	}
	for _, r := range specialRanges {
		if r.p.Contains(ip) {
			return r.what
		}
	}
	return ""
}

// Decide decides one destination. name is the hostname asked for, or ""
// when only an address is known; ip is the address to be dialled, or the
// zero Addr when the name is checked before it is resolved (the server
// checks the name first so that it never resolves a name it would refuse).
// A name that is an IP literal is treated as that address.
//
// The rules, in order:
//  1. A blocked entry matching the name, or covering the address, refuses.
//  2. An address in a default-refused range (loopback, link-local, private,
//     CGNAT, unspecified, multicast, reserved, NAT64/6to4) is allowed only
//     by an allow entry that is an address or CIDR covering it; the cloud
//     metadata addresses only by an entry naming exactly that address.
//  3. Otherwise an allow address/CIDR entry covering the address allows,
//     whatever the name; else an allow name entry matching the name allows.
//  4. Anything else is refused (RuleDefault).
func (p *Policy) Decide(name string, ip netip.Addr, port uint16) Decision {
	if p == nil {
		return Decision{Rule: RuleDefault, Reason: "no network destinations are allowed"}
	}
	ip = ip.Unmap()
	if name != "" {
		if a, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
			a = a.Unmap()
			if ip.IsValid() && a != ip {
				return Decision{Rule: RuleDefault, Reason: fmt.Sprintf("address %s asked for but %s would be dialled", a, ip)}
			}
			name, ip = "", a
		} else {
			n, err := canonicalName(name)
			if err != nil {
				return Decision{Rule: RuleDefault, Reason: "invalid hostname: " + err.Error()}
			}
			name = n
		}
	}
	if name == "" && !ip.IsValid() {
		return Decision{Rule: RuleDefault, Reason: "no destination"}
	}
	if ip.Zone() != "" {
		ip = ip.WithZone("")
	}
	for i := range p.blocked {
		e := &p.blocked[i]
		if name != "" && e.matchesName(name, port) {
			return Decision{Rule: e.raw, Reason: "blocked destination (blockedNetworkDestinations)"}
		}
		if ip.IsValid() && e.matchesAddr(ip, port) {
			return Decision{Rule: e.raw, Reason: fmt.Sprintf("address %s is blocked (blockedNetworkDestinations)", ip)}
		}
	}
	if ip.IsValid() {
		meta := isMetadata(ip)
		for i := range p.allowed {
			e := &p.allowed[i]
			if !e.matchesAddr(ip, port) {
				continue
			}
			if meta && e.prefix.Bits() != ip.BitLen() {
				continue
			}
			return Decision{Allowed: true, Rule: e.raw, Reason: "address allowed (allowedNetworkDestinations)"}
		}
		if what := specialRange(ip); what != "" {
			how := "an allow entry naming that address or its range"
			if meta {
				how = "an allow entry naming exactly " + ip.String()
			}
			return Decision{Rule: RuleDefault, Reason: fmt.Sprintf("%s %s is refused unless %s", what, ip, how)}
		}
	}
	if name != "" {
		for i := range p.allowed {
			e := &p.allowed[i]
			if e.matchesName(name, port) {
				return Decision{Allowed: true, Rule: e.raw, Reason: "name allowed (allowedNetworkDestinations)"}
			}
		}
	}
	what := name
	if what == "" {
		what = ip.String()
	}
	return Decision{Rule: RuleDefault, Reason: fmt.Sprintf("%s port %d is not in allowedNetworkDestinations", what, port)}
}

// anyPortNameAllowed reports whether name is allowed on some port (DNS
// answers do not know the port the child will use). A blocked entry with no
// port refuses it.
func (p *Policy) anyPortNameAllowed(name string) Decision {
	if p == nil {
		return p.Decide(name, netip.Addr{}, 0)
	}
	n, err := canonicalName(name)
	if err != nil {
		return Decision{Rule: RuleDefault, Reason: "invalid hostname: " + err.Error()}
	}
	for i := range p.blocked {
		e := &p.blocked[i]
		if e.port == 0 && e.matchesName(n, 0) {
			return Decision{Rule: e.raw, Reason: "blocked destination (blockedNetworkDestinations)"}
		}
	}
	for i := range p.allowed {
		e := &p.allowed[i]
		if (e.kind == kindHost || e.kind == kindWildcard) && e.matchesName(n, e.port) {
			return Decision{Allowed: true, Rule: e.raw, Reason: "name allowed (allowedNetworkDestinations)"}
		}
	}
	return Decision{Rule: RuleDefault, Reason: n + " is not in allowedNetworkDestinations"}
}

// anyPortAddrAllowed is the address check for a DNS answer: the address
// must not be blocked on every port and must not be in a default-refused
// range unless some address entry covers it.
func (p *Policy) anyPortAddrAllowed(name string, ip netip.Addr) Decision {
	ip = ip.Unmap()
	for i := range p.blocked {
		e := &p.blocked[i]
		if e.port == 0 && e.matchesAddr(ip, 0) {
			return Decision{Rule: e.raw, Reason: fmt.Sprintf("address %s is blocked (blockedNetworkDestinations)", ip)}
		}
	}
	if what := specialRange(ip); what != "" {
		meta := isMetadata(ip)
		for i := range p.allowed {
			e := &p.allowed[i]
			if e.kind == kindPrefix && e.prefix.Contains(ip) && (!meta || e.prefix.Bits() == ip.BitLen()) {
				return Decision{Allowed: true, Rule: e.raw, Reason: "address allowed (allowedNetworkDestinations)"}
			}
		}
		return Decision{Rule: RuleDefault, Reason: fmt.Sprintf("%s resolves to %s %s, refused unless an allow entry names that address", name, what, ip)}
	}
	return Decision{Allowed: true, Rule: RuleDefault, Reason: "address passes"}
}
