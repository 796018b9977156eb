//go:build linux

package main

import "github.com/mcp-process/mcp-process/internal/sandbox"

// networkFeatures reports the per-host mechanisms of the network layer
// (docs/network.md): the transparent capture of allowlist
// launches and Landlock's TCP connect rules.
func networkFeatures() []feature {
	capture := feature{Name: "network-transparent-capture",
		Detail: "nf_tables in each child's network namespace: with allowedNetworkDestinations every TCP connection goes to the egress proxy, every UDP packet to port 53 to its name server"}
	if err := sandbox.CaptureSupport(); err == nil {
		capture.Available = true
	} else {
		capture.Detail = "unavailable (" + err.Error() + "): allowlist launches reach only the explicit proxies (HTTP_PROXY, ALL_PROXY); direct connections fail"
	}
	rules := feature{Name: "landlock-tcp-connect",
		Detail: "Landlock TCP rules (ABI 4): an allowlist launch without the capture may connect to the proxy ports only (blockNetworkAccess needs none: its namespace reaches nothing, and the child's own loopback stays usable)"}
	if err := sandbox.NetRulesSupport(); err == nil {
		rules.Available = true
	} else {
		rules.Detail = err.Error() + ": the empty network namespace holds alone"
	}
	return []feature{capture, rules}
}
