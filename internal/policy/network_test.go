package policy

import (
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// With allowedNetworkDestinations every child gets the egress proxy's
// variables, whatever inheritEnvVars copies; a request naming one is
// refused. Baseline: without a destination list they are the agent's.
func TestProxyEnvironmentIsTheServers(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.AllowedNetworkDestinations = []string{"registry.npmjs.org"}
	cfg.InheritEnvVars = []string{"HTTPS_PROXY"}
	p := mustNew(t, cfg, WithGetenv(func(n string) string {
		if n == "HTTPS_PROXY" {
			return "http://corp-proxy:8080"
		}
		return ""
	}))
	d := p.Evaluate(Request{Executable: "mytrue", Cwd: f.work}, noon)
	checkDecision(t, d, "", "")
	for _, kv := range []string{"HTTP_PROXY=http://127.0.0.1:3128", "HTTPS_PROXY=http://127.0.0.1:3128", "https_proxy=http://127.0.0.1:3128",
		"ALL_PROXY=socks5h://127.0.0.1:1080", "all_proxy=socks5h://127.0.0.1:1080", "NO_PROXY=", "no_proxy="} {
		if !slices.Contains(d.Spec.Env, kv) {
			t.Errorf("%s missing from %q", kv, d.Spec.Env)
		}
	}
	for _, n := range []string{"NO_PROXY", "http_proxy", "All_Proxy"} {
		d := p.Evaluate(Request{Executable: "mytrue", Cwd: f.work, Env: map[string]string{n: "x"}}, noon)
		if d.Err == nil || d.Err.Code != errcode.EnvInvalid || !strings.Contains(d.Err.Message, n) {
			t.Errorf("request setting %s: %+v, want ENV_INVALID naming it", n, d.Err)
		}
	}
	// Baseline.
	d = mustNew(t, f.baseConfig()).Evaluate(Request{Executable: "mytrue", Cwd: f.work, Env: map[string]string{"NO_PROXY": "x"}}, noon)
	checkDecision(t, d, "", "")
	if !slices.Contains(d.Spec.Env, "NO_PROXY=x") {
		t.Errorf("without a destination list NO_PROXY is the agent's: %q", d.Spec.Env)
	}
}
