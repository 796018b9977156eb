package main

import (
	"log/slog"
	"os"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// unenforcedLimits names the cgroup limits (maxMemoryMB, maxProcesses,
// maxCpuPercent) this host cannot enforce, each with the reason, and what
// to do about it; "" when all are enforced.
func unenforcedLimits(cfg *config.Config, cg *cgroup.Manager) string {
	if cg == nil {
		return ""
	}
	cs := cg.Support()
	var off []string
	for _, c := range []struct {
		name, key string
		ok        bool
	}{{"maxMemoryMB", "memory", cs.Memory}, {"maxProcesses", "pids", cs.Pids}, {"maxCpuPercent", "cpu", cs.CPU}} {
		if !c.ok {
			off = append(off, c.name+" ("+cs.Reasons[c.key]+")")
		}
	}
	if len(off) == 0 {
		return ""
	}
	then := "launches run without them and say so in sandbox.notEnforced"
	if cfg != nil && cfg.StrictResourceEnforcement {
		then = "strictResourceEnforcement refuses every launch that asks for one (built-in defaults included)"
	}
	fix := "run the server as root, or give its user a delegated cgroup (systemd: Delegate=yes)"
	if os.Geteuid() == 0 {
		fix = "mount the cgroup controllers (see mcp-process doctor)"
	}
	return "resource limits not enforced on this host: " + strings.Join(off, ", ") + "; " + then + "; to enforce them " + fix
}

// warnUnenforcedLimits says once on stderr, at start, which resource
// limits this host leaves off (a non-root server without a delegated
// cgroup enforces none of them).
func warnUnenforcedLimits(cfg *config.Config, cg *cgroup.Manager, logger *slog.Logger) {
	if w := unenforcedLimits(cfg, cg); w != "" {
		logger.Warn(w)
	}
}
