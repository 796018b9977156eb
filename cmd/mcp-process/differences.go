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
	return out
}
