package policy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

func envValue(env []string, name string) (string, bool) {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// Every child's HOME is its agent's own directory under the homes root:
// never the server's HOME, the same for every launch of one agent,
// different between agents, and always one component beneath the root
// whatever the agent id holds.
func TestHomeIsPerAgent(t *testing.T) {
	f := newFixture(t)
	root := filepath.Join(f.root, "homes")
	p := mustNew(t, f.baseConfig(), WithHomes(root), WithGetenv(func(k string) string {
		return map[string]string{"HOME": "/root"}[k]
	}))
	homes := map[string]string{}
	for _, agent := range []string{"alice", "bob", "", ".", "..", "../../etc", "a/b", "a%2Fb", "Alice", strings.Repeat("x", 300), strings.Repeat("x", 299) + "y"} {
		d := p.Evaluate(Request{Agent: agent, Executable: "mytrue", Cwd: f.work}, noon)
		checkDecision(t, d, "", "")
		h, ok := envValue(d.Spec.Env, "HOME")
		if !ok || h != d.Spec.Home {
			t.Fatalf("agent %q: HOME=%q, Spec.Home=%q", agent, h, d.Spec.Home)
		}
		if filepath.Dir(h) != root || filepath.Base(h) == "." || filepath.Base(h) == ".." || len(filepath.Base(h)) > 255 {
			t.Errorf("agent %q: HOME %s is not one component beneath %s", agent, h, root)
		}
		if other, dup := homes[h]; dup {
			t.Errorf("agents %q and %q share the HOME %s", other, agent, h)
		}
		homes[h] = agent
		again := p.Evaluate(Request{Agent: agent, Executable: "mytrue", Cwd: f.work}, noon)
		if again.Spec.Home != h {
			t.Errorf("agent %q: HOME changed between launches: %s, then %s", agent, h, again.Spec.Home)
		}
	}
	if got := p.HomesRoot(); got != root {
		t.Errorf("HomesRoot = %s, want %s", got, root)
	}
}

// A request cannot set HOME (not even to the server's own home), and no
// config can let it: allowedEnvVars and inheritEnvVars naming HOME are
// refused.
func TestHomeNotSettable(t *testing.T) {
	f := newFixture(t)
	p := mustNew(t, f.baseConfig(), WithHomes(filepath.Join(f.root, "homes")))
	for _, name := range []string{"HOME", "home"} {
		d := p.Evaluate(Request{Agent: "a", Executable: "mytrue", Cwd: f.work, Env: map[string]string{name: "/root"}}, noon)
		checkDecision(t, d, errcode.EnvInvalid, LayerEnvironment)
		if d.Err != nil && (!strings.Contains(d.Err.Message, name) || strings.Contains(d.Err.Message, "/root")) {
			t.Errorf("%s: the refusal should name the variable, not its value: %v", name, d.Err)
		}
	}
	// HOME in allowedEnvVars or inheritEnvVars is a config error:
	// config.Validate refuses it (TestValidateRefusesBadValues).
}

// The default root follows the server's environment; a server with no
// place for the homes is refused at New, naming the variables.
func TestHomesDefaultRoot(t *testing.T) {
	f := newFixture(t)
	env := func(kv ...string) Option {
		return WithGetenv(func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		})
	}
	p := mustNew(t, f.baseConfig(), env("XDG_STATE_HOME", "/nonexistent-state", "HOME", "/h"))
	if got := p.HomesRoot(); got != "/nonexistent-state/mcp-process/homes" {
		t.Errorf("HomesRoot = %s", got)
	}
	p = mustNew(t, f.baseConfig(), env("HOME", "/nonexistent-home"))
	want := "/nonexistent-home/.local/state/mcp-process/homes"
	if os.Geteuid() == 0 {
		want = agenthome.SystemRoot // root's HOME cannot be traversed by the children
	}
	if got := p.HomesRoot(); got != want {
		t.Errorf("HomesRoot = %s, want %s", got, want)
	}
	// Symbolic links in the existing part are resolved.
	link := filepath.Join(f.root, "link")
	if err := os.Symlink(f.outside, link); err != nil {
		t.Fatal(err)
	}
	p = mustNew(t, f.baseConfig(), env("XDG_STATE_HOME", link))
	if got := p.HomesRoot(); got != filepath.Join(f.outside, "mcp-process", "homes") {
		t.Errorf("HomesRoot = %s, want it beneath %s", got, f.outside)
	}
	if os.Geteuid() != 0 {
		cfg := f.baseConfig()
		_, err := New(&cfg, env())
		if e, ok := err.(*errcode.Error); !ok || !strings.Contains(e.Remedy, "XDG_STATE_HOME or HOME") {
			t.Errorf("no XDG_STATE_HOME, no HOME: want a refusal naming them, got %v", err)
		}
	}
}

// With enableChroot the host directory is not in the jail: HOME=/.
func TestHomeInChroot(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.EnableChroot = true
	cfg.ChrootDirectory = "/"
	p := mustNew(t, cfg, WithHomes(filepath.Join(f.root, "homes")))
	d := p.Evaluate(Request{Agent: "a", Executable: "mytrue", Cwd: f.work}, noon)
	checkDecision(t, d, "", "")
	if d.Spec.Home != "" || !slices.Contains(d.Spec.Env, "HOME=/") {
		t.Errorf("chroot: Home %q, Env %q; want none and HOME=/", d.Spec.Home, d.Spec.Env)
	}
}
