package sandbox

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// executablePolicyScope "tree" fills ExecPaths from the policy; "launch"
// and a config that never went through Load leave it nil.
func TestIsolationForExecPaths(t *testing.T) {
	trueBin, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip("no /bin/true here")
	}
	base := config.Config{AllowedExecutables: []string{"true"}, SearchPath: config.DefaultSearchPath,
		BlockShellInterpreters: true, BlockSetuidExecutables: true, MaxProcessLifetime: 60}

	c := base
	c.ExecutablePolicyScope = config.ScopeTree
	iso, err := IsolationFor(&c)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(iso.ExecPaths, trueBin) || !slices.IsSorted(iso.ExecPaths) {
		t.Fatalf("ExecPaths = %v, want a sorted list with %s", iso.ExecPaths, trueBin)
	}
	for _, p := range iso.ExecPaths {
		if p != trueBin && !strings.HasPrefix(filepath.Base(p), "ld") {
			t.Errorf("ExecPaths has %s: only true and its loader are allowed", p)
		}
	}
	if l := strings.Join(iso.Layers(), "|"); !strings.Contains(l, "executables for the whole tree") {
		t.Errorf("Layers = %q does not report the tree scope", l)
	}

	// An empty allowlist in the tree scope: an empty list, not "no rule".
	c.AllowedExecutables = nil
	iso, err = IsolationFor(&c)
	if err != nil || iso.ExecPaths == nil || len(iso.ExecPaths) != 0 {
		t.Fatalf("empty allowlist: ExecPaths = %#v, %v; want an empty non-nil list", iso.ExecPaths, err)
	}

	for _, scope := range []string{config.ScopeLaunch, ""} {
		c := base
		c.ExecutablePolicyScope = scope
		iso, err := IsolationFor(&c)
		if err != nil || iso.ExecPaths != nil {
			t.Errorf("scope %q: ExecPaths = %v, %v; want nil", scope, iso.ExecPaths, err)
		}
	}

	// A list that cannot be built makes every launch fail (here: a jail
	// that does not exist on this host).
	c = base
	c.ExecutablePolicyScope = config.ScopeTree
	c.EnableChroot, c.ChrootDirectory = true, filepath.Join(t.TempDir(), "no-jail")
	iso, err = IsolationFor(&c)
	wantErrCode(t, err, errcode.InvalidInput, "config", "chrootDirectory")
	if iso.err == nil {
		t.Error("the isolation does not carry the error to the launches")
	}
}
