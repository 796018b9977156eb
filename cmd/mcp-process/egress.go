package main

import (
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// egressTestHook, set only in a binary built with the egresstest tag
// (egress_testhook.go), replaces the proxy's resolver and dialer for the
// end-to-end tests. A release build has no such hook.
var egressTestHook func(*supervisor.ProxyServer)

// newEgress builds the egress proxy that serves every allowlist launch
// (SPEC 3.11), its policy compiled once, here. Config validation has
// checked every entry already; were one still refused, the proxy refuses
// every allowlist launch (fail closed) with that error.
func newEgress(cfg *config.Config, rec audit.Recorder) supervisor.EgressServer {
	ps, err := supervisor.NewProxyServer(cfg, rec)
	if err != nil {
		return supervisor.FailedProxy(err)
	}
	if egressTestHook != nil {
		egressTestHook(ps)
	}
	return ps
}
