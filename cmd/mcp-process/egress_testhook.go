//go:build egresstest

package main

import (
	"context"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// For the end-to-end tests only (built with -tags egresstest): the
// variable MCP_PROCESS_TEST_EGRESS_HOSTS="name=addr,..." makes the proxy
// resolve each name to its address (a documentation address such as
// 203.0.113.10), and dial such an address on 127.0.0.1 instead (same
// port): a child's transparent connection to an allowed name then reaches
// the test's server on the host's loopback. Read from the server's own
// environment, never from anything the agent sends.
func init() {
	spec := os.Getenv("MCP_PROCESS_TEST_EGRESS_HOSTS")
	if spec == "" {
		return
	}
	names := map[string]netip.Addr{}
	fake := map[netip.Addr]bool{}
	for _, kv := range strings.Split(spec, ",") {
		n, a, ok := strings.Cut(kv, "=")
		ip, err := netip.ParseAddr(a)
		if !ok || err != nil {
			continue
		}
		names[n], fake[ip] = ip, true
	}
	egressTestHook = func(ps *supervisor.ProxyServer) {
		ps.Resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			if a, ok := names[host]; ok {
				return []netip.Addr{a}, nil
			}
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
		ps.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
			if ap, err := netip.ParseAddrPort(address); err == nil && fake[ap.Addr()] {
				address = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
			}
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		}
	}
}
