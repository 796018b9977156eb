package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
)

// seedMaximum is the seed's "Maximum Security (Zero Trust)" example
// (ENTERPRISE-SECURITY.md), verbatim but for its two directories, which
// the test creates.
const seedMaximum = `{
  "allowedExecutables": [
    "node"
  ],
  "blockSetuidExecutables": true,
  "blockShellInterpreters": true,
  "maxArgumentCount": 10,
  "maxArgumentLength": 500,
  "allowedEnvVars": [
    "NODE_ENV"
  ],
  "allowedWorkingDirectories": [
    "APP_SANDBOX"
  ],
  "defaultResourceLimits": {
    "maxCpuPercent": 25,
    "maxMemoryMB": 256,
    "maxFileDescriptors": 50,
    "maxCpuTime": 60
  },
  "maxConcurrentProcesses": 1,
  "maxConcurrentProcessesPerAgent": 1,
  "maxProcessLifetime": 300,
  "maxLaunchesPerMinute": 5,
  "allowProcessTermination": true,
  "allowGroupTermination": false,
  "allowForcedTermination": false,
  "allowStdinInput": false,
  "allowOutputCapture": true,
  "maxOutputBufferSize": 1048576,
  "enableChroot": true,
  "chrootDirectory": "VAR_SANDBOX",
  "enableNamespaces": true,
  "namespaces": {
    "pid": true,
    "network": true,
    "mount": true,
    "uts": true,
    "ipc": true,
    "user": true
  },
  "enableSeccomp": true,
  "seccompProfile": "strict",
  "blockNetworkAccess": true,
  "enableAuditLog": true,
  "enableSecurityAlerts": true,
  "requireConfirmation": true,
  "readOnlyFilesystem": true
}`

// TestSeedMaximumSecurityPassesTheNetworkLayer: the seed's Maximum
// Security example, its jail created, is no longer refused for
// blockNetworkAccess; only a layer this build still lacks (approval, for
// requireConfirmation) may refuse it. Without that refusal it validates.
func TestSeedMaximumSecurityPassesTheNetworkLayer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	jail := filepath.Join(e.dir, "var-sandbox")
	app := filepath.Join(jail, "app", "sandbox")
	if err := os.MkdirAll(app, 0o755); err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("VAR_SANDBOX", jail, "APP_SANDBOX", "/app/sandbox").Replace(seedMaximum)
	path := filepath.Join(e.dir, "maximum.json")
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, e, "", nil, "validate", "--config", path)
	if code != 0 && (strings.Contains(errOut, "blockNetworkAccess") || strings.Contains(errOut, "[network]")) { // (a warning may name the key: validate lists the differences from the original)
		t.Fatalf("the seed's Maximum Security example is refused for its network key: exit %d, %s", code, errOut)
	}
	if !config.LayerBuilt("approval") {
		if code != 2 || !strings.Contains(errOut, "requireConfirmation") {
			t.Fatalf("exit %d, stderr %q: want the approval layer's refusal (requireConfirmation) and nothing else", code, errOut)
		}
		// Without the key of the layer this build lacks, everything else,
		// blockNetworkAccess with it, validates.
		doc = strings.Replace(doc, `"requireConfirmation": true,`, "", 1)
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code = runCLI(t, e, "", nil, "validate", "--config", path)
	}
	if code != 0 {
		t.Fatalf("the seed's Maximum Security example: exit %d, %s", code, errOut)
	}
}

// Over MCP: with blockNetworkAccess, process_get_policy's layers.network
// says blocked, a launch's sandbox.applied names it, and the child sees
// only lo; with a destination list, the launch runs behind the proxy.
func TestNetworkOverMCP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/cat")
	cfg["blockNetworkAccess"] = true
	s := startServer(t, e, cfg)
	var pol struct {
		Layers map[string]string `json:"layers"`
	}
	s.ok("process_get_policy", map[string]any{}, &pol)
	if !strings.HasPrefix(pol.Layers["network"], "blocked (empty network namespace") {
		t.Errorf("layers.network = %q", pol.Layers["network"])
	}
	r := s.start(map[string]any{"executable": "/bin/cat", "args": []string{"/proc/net/dev"}, "captureOutput": true})
	var named bool
	for _, a := range r.Sandbox.Applied {
		named = named || strings.HasPrefix(a, "network: blocked")
	}
	if !named {
		t.Errorf("sandbox.applied %q does not name the blocked network", r.Sandbox.Applied)
	}
	s.wait(r.Pid)
	out := s.output(map[string]any{"pid": r.Pid})
	var ifaces []string
	for _, l := range strings.Split(out.Stdout, "\n")[2:] {
		if name, _, ok := strings.Cut(l, ":"); ok {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("the child's interfaces %q, want lo only:\n%s", ifaces, out.Stdout)
	}

	cfg = e.config("/bin/true")
	cfg["allowedNetworkDestinations"] = []string{"registry.npmjs.org"}
	s = startServer(t, e, cfg)
	s.ok("process_get_policy", map[string]any{}, &pol)
	if !strings.HasPrefix(pol.Layers["network"], "allowlist via proxy") {
		t.Errorf("layers.network = %q", pol.Layers["network"])
	}
	// The server's egress proxy serves the launch (egress_test.go).
	r = s.start(map[string]any{"executable": "/bin/true"})
	named = false
	for _, a := range r.Sandbox.Applied {
		named = named || strings.HasPrefix(a, "network: allowlist via proxy")
	}
	if !named {
		t.Errorf("sandbox.applied %q does not name the allowlist", r.Sandbox.Applied)
	}
	if st := s.wait(r.Pid); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("the allowlist launch: %+v", st)
	}
}
