package policy

import (
	"encoding/json"
	"testing"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// A refusal's layer, in the error JSON an agent reads and in the audit
// record of the denial, is the registry's name: the report's name for the
// same layer ("executables", "time-windows": the names "executable" and
// "time-window" of earlier versions are gone).
func TestRefusalLayersAreTheRegistrysNames(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		cfg  func(*config.Config)
		req  Request
		want string
	}{
		{"executable not allowed", nil, Request{Executable: "other"}, "executables"},
		{"shell", func(c *config.Config) { c.AllowedExecutables = []string{"mytrue", "sh"} }, Request{Executable: "sh"}, "executables"},
		{"argument", nil, Request{Executable: "mytrue", Args: []string{"$(id)"}}, "arguments"},
		{"environment", nil, Request{Executable: "mytrue", Env: map[string]string{"LD_PRELOAD": "x"}}, "environment"},
		{"working directory", nil, Request{Executable: "mytrue", Cwd: f.outside}, "working-directory"},
		{"time window", func(c *config.Config) { c.BlockedTimeWindows = []string{"* *"} }, Request{Executable: "mytrue"}, "time-windows"},
		{"resource limit", func(c *config.Config) { c.MaximumResourceLimits.MaxMemoryMB = 10 },
			Request{Executable: "mytrue", Limits: config.ResourceLimits{MaxMemoryMB: 20}}, "resource-limits"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d := mustNew(t, cfg).Evaluate(tc.req, noon)
			if d.Allow || d.Err == nil {
				t.Fatalf("allowed: %+v", d)
			}
			if !layer.Registered(layer.Layer(d.Err.Layer)) {
				t.Errorf("layer %q is not registered", d.Err.Layer)
			}
			var wire struct{ Layer string }
			b, _ := json.Marshal(d.Err)
			if err := json.Unmarshal(b, &wire); err != nil || wire.Layer != tc.want {
				t.Errorf("error JSON %s: layer %q, want %q", b, wire.Layer, tc.want)
			}
			rec := audit.Denial("agent", "process_start", d.Err, true)
			b, _ = json.Marshal(rec)
			wire.Layer = ""
			if err := json.Unmarshal(b, &wire); err != nil || wire.Layer != tc.want {
				t.Errorf("audit record %s: layer %q, want %q", b, wire.Layer, tc.want)
			}
		})
	}
}
