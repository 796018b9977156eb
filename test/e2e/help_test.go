//go:build linux

package e2e

import (
	"strings"
	"testing"
)

// Every subcommand's --help lists its flags on stdout and exits 0;
// `version` prints the version.
func TestSubcommandHelp(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		sub  string
		want []string
	}{
		{"serve", []string{"Usage: mcp-process serve [flags]", "--config FILE", "--http ADDR", "--log-level", "--log-format", "--agent-id", "--profile"}},
		{"validate", []string{"Usage: mcp-process validate [flags]", "--config FILE", "--profile"}},
		{"check", []string{"Usage: mcp-process check [flags] -- EXECUTABLE ARGS...", "--cwd", "--json"}},
		{"run", []string{"Usage: mcp-process run [flags] -- EXECUTABLE ARGS...", "--cwd", "--log-level"}},
		{"doctor", []string{"Usage: mcp-process doctor [flags]", "--json"}},
		{"audit", []string{"Usage: mcp-process audit verify [--key KEYFILE] [--no-head] FILE", "TRUNCATED", "REWRITTEN"}},
		{"init", []string{"Usage: mcp-process init [flags]", "--profile P", "--output FILE"}},
	} {
		out, errOut, code := runCLI(t, e, "", nil, tc.sub, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", tc.sub, code, errOut)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s --help does not list %q:\n%s", tc.sub, w, out)
			}
		}
	}
	out, _, code := runCLI(t, e, "", nil, "version")
	if code != 0 || !strings.HasPrefix(out, "mcp-process ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
}
