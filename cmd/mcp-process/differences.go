package main

import (
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
)

// differences says, one line each, where this server deliberately behaves
// unlike the original TypeScript mcp-process for the configuration l (SPEC
// 7.3): `validate` prints them in its "differences" array, and
// docs/migrating.md lists the same points. Each line starts with the key it
// concerns and says what this configuration gets.
func differences(l *config.Loaded) []string {
	c := l.Config
	var out []string

	exes := "here " + strconv.Itoa(len(c.AllowedExecutables)) + " allowed (" + strings.Join(c.AllowedExecutables, ", ") + ")"
	if len(c.AllowedExecutables) == 0 {
		exes = "here the list is empty, so every launch is refused"
	}
	out = append(out, "allowedExecutables: an empty list runs nothing, never everything; "+exes)

	shells := "blocked"
	if !c.BlockShellInterpreters {
		shells = "allowed (blockShellInterpreters is false)"
	}
	out = append(out, "blockShellInterpreters: shells are blocked unless set to false, by name (sh, bash, dash, ash, zsh, fish, csh, tcsh, ksh, mksh, busybox, toybox), by content (renamed copies) and as #! interpreters; here: "+shells)

	env := "nothing of the server's environment"
	if len(c.InheritEnvVars) > 0 {
		env = "only " + strings.Join(c.InheritEnvVars, ", ") + " (inheritEnvVars)"
	}
	out = append(out, "environment: a child's environment is built (PATH from searchPath, HOME, LANG, TERM, TMPDIR, the request's env), not inherited; a blocked variable in a request is refused, not dropped; here children get "+env)

	if id, e := c.Identity(); e == nil {
		who := "the server is not root, so they run as its own user"
		if id.Set {
			who = "they run as " + id.Describe()
		}
		out = append(out, "runAsUser: children of a root server run as uid 65534 (nobody) unless runAsUser/runAsGroup say otherwise, never as host root; here "+who)
	}

	if c.RequireConfirmation || len(c.RequireConfirmationFor) > 0 || c.RequireTerminationConfirmation {
		how := "MCP elicitation (form), or the input request of 2026-07-28 sessions"
		if c.ApprovalMode == config.ApprovalModeURL {
			how = "the server's approval page (approvalMode url), which asks for the approver token"
		}
		out = append(out, "requireConfirmation: the original accepted the confirmation keys and asked nobody; here a person confirms through "+how+", and a client that cannot be asked gets CONFIRMATION_DENIED")
	}

	if l.StartDirectory {
		out = append(out, "allowedWorkingDirectories: absent or empty means the directory the server was started in, not every directory; here "+strings.Join(c.AllowedWorkingDirectories, ", "))
	}
	out = append(out, limitDifferences(l)...)
	out = append(out, layerDifferences(c)...)
	return out
}

// limitDifferences: the resource limits the configuration's own document
// sets whose meaning differs from the original's (which polled the process
// and sent SIGTERM, or did not enforce the key at all).
func limitDifferences(l *config.Loaded) []string {
	var out []string
	for _, obj := range []struct {
		key    string
		limits config.ResourceLimits
	}{{"defaultResourceLimits", l.Config.DefaultResourceLimits}, {"maximumResourceLimits", l.Config.MaximumResourceLimits}} {
		set := func(member string) bool { return l.Explicit[obj.key] || l.Explicit[obj.key+"."+member] }
		if set("maxCpuPercent") && obj.limits.MaxCpuPercent > 0 {
			out = append(out, obj.key+".maxCpuPercent: the original sent SIGTERM when a poll saw more; here the kernel holds the tree to "+
				strconv.FormatFloat(float64(obj.limits.MaxCpuPercent), 'g', -1, 64)+"% of one CPU (cgroup quota): throttled, never killed for it")
		}
		if set("maxCpuTime") && obj.limits.MaxCpuTime > 0 {
			out = append(out, obj.key+".maxCpuTime: the original compared it with the process's wall-clock uptime; here it is "+
				strconv.FormatInt(int64(obj.limits.MaxCpuTime), 10)+" s of CPU time used by the tree (a sleeping process uses none): use maxProcessLifetime or a launch's timeout for wall-clock time")
		}
		if set("maxProcesses") && obj.limits.MaxProcesses > 0 {
			out = append(out, obj.key+".maxProcesses: the original did not enforce it; here the kernel caps the tree at "+
				strconv.FormatInt(int64(obj.limits.MaxProcesses), 10)+" tasks, threads included (cgroup pids): node and npm start about ten threads of their own")
		}
	}
	return out
}

// layerDifferences: the keys the original accepted and did nothing with,
// which this configuration turns on and which are enforced here.
func layerDifferences(c *config.Config) []string {
	var out []string
	for _, k := range []struct {
		key, what string
		on        bool
	}{
		{"enableChroot", "children run in a jail (pivot_root)", c.EnableChroot},
		{"enableNamespaces", "children get new namespaces", c.EnableNamespaces},
		{"enableSeccomp", "children run under the seccomp profile " + c.SeccompProfile, c.EnableSeccomp},
		{"readOnlyFilesystem", "children see every mount read-only but a private /tmp and writablePaths", c.ReadOnlyFilesystem},
		{"dropCapabilities", "the capabilities are removed from every set", len(c.DropCapabilities) > 0},
		{"enableMAC", "children exec under the AppArmor profile or SELinux context", c.EnableMAC},
		{"blockNetworkAccess", "children get an empty network namespace", c.BlockNetworkAccess},
		{"allowedNetworkDestinations", "only these destinations are reachable", len(c.AllowedNetworkDestinations) > 0},
		{"blockedNetworkDestinations", "these destinations are unreachable", len(c.BlockedNetworkDestinations) > 0},
		{"requireConfirmation", "every launch waits for a human's yes", c.RequireConfirmation},
		{"requireConfirmationFor", "these executables wait for a human's yes", len(c.RequireConfirmationFor) > 0},
		{"allowedTimeWindows", "launches outside these windows are refused", len(c.AllowedTimeWindows) > 0},
		{"blockedTimeWindows", "launches inside these windows are refused", len(c.BlockedTimeWindows) > 0},
		{"enableSecurityAlerts", "violations are POSTed to securityAlertWebhook", c.EnableSecurityAlerts},
	} {
		if k.on {
			out = append(out, k.key+": the original accepted it and did nothing; here it is enforced: "+k.what)
		}
	}
	if c.EnableAuditLog {
		out = append(out, "enableAuditLog: the original wrote JSON lines to stdout/stderr; here records go to a hash-chained file ("+c.AuditLogPath+"), on disk before each answer, and stdout carries JSON-RPC only")
	}
	return out
}
