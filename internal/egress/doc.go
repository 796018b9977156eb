// Package egress decides and relays the outbound connections of a launched
// tree whose network is confined to an empty network namespace
// (allowedNetworkDestinations, blockedNetworkDestinations; SPEC 3.11, 6,
// 7.5). The namespace, the listeners inside it and the nftables rules that
// redirect the child's traffic to them are built elsewhere (package
// sandbox); this package is the server side: Compile turns the two lists
// into a Policy, and Serve answers a tree's listeners with it.
//
// What it guarantees:
//
//   - Only destinations the Policy allows are dialled. The Dial func sees
//     only literal IP:port addresses that were checked; a hostname is
//     resolved by the server itself, and the address dialled is one of the
//     addresses it checked (no second lookup, hence no DNS rebinding window
//     between check and dial).
//   - A name the policy refuses is never resolved by the server (no DNS
//     query leaves the host for it), on every path including DNS.
//   - blockedNetworkDestinations wins over every allow entry, on the name
//     and on every resolved address. For a name, every address it resolves
//     to must pass, or the name is refused.
//   - Loopback, link-local, private (RFC 1918, fc00::/7), CGNAT, unspecified,
//     multicast, reserved, NAT64 and 6to4 addresses are refused unless an
//     allow entry that is an address or CIDR covers them (a hostname entry
//     never makes them acceptable); the cloud metadata addresses
//     169.254.169.254 and fd00:ec2::254 only by an entry naming exactly that
//     address. IPv4-mapped IPv6 addresses are judged as their IPv4 form.
//   - A transparently captured connection is dialled only to its original
//     destination address. A TLS SNI or HTTP Host name decides it only if
//     that address is one of the name's addresses as the server resolved
//     them; otherwise the address alone decides.
//   - Bounded: at most MaxConns connections per Tree are relayed or being
//     set up (more are accepted and closed at once, and recorded); request
//     heads are at most 64 KiB and must arrive within HeaderTimeout; a
//     relay with no traffic for IdleTimeout is closed; at most 64 DNS
//     queries are answered at once; the address-to-name map is bounded.
//   - Every decision and every close of an allowed connection is passed to
//     Options.Record. Every goroutine belongs to a Tree; Close closes every
//     listener and connection and returns when they have all ended.
//
// What it does not do:
//
//   - No TLS interception: the server sees the SNI, not the URL, and cannot
//     tell what is sent inside an allowed connection. An allowed
//     destination can carry anything, including data the child exfiltrates.
//   - A wildcard entry (*.example.com) lets the child choose the subdomain,
//     and so the DNS queries the host's resolver sends for it.
//   - Domain fronting (an allowed SNI with another Host inside TLS) to an
//     allowed address is not detected.
//   - Only TCP is relayed (and UDP DNS answered); QUIC and other UDP are
//     not, and the namespace drops them.
//   - The plain-HTTP proxy forwards one request per connection (no
//     keep-alive through the proxy) and only http:// URIs; https goes
//     through CONNECT.
//   - Options.Record is called for every decision and close, synchronously;
//     summarising a flood of records (SPEC 7.2) is the audit layer's job.
//   - DNS answers carry IPv4 addresses only unless Options.AnswerAAAA (the
//     namespace's capture is IPv4 only).
//   - The SNI name is used as the client sent it (Encrypted Client Hello
//     hides it: the outer name, or the address, then decides).
package egress
