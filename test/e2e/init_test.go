//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInit: `mcp-process init` writes a starting config for the current
// directory that the server then reads as ./mcp-process-config.json (with
// its $comment and description, ignored by the server), and never
// overwrites a file.
func TestInit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := filepath.Join(e.work, "mcp-process-config.json")
	// An earlier server here recorded the file as one its children could
	// create (config.SourceWatch): init is the user writing it, so a start
	// here takes it.
	record := filepath.Join(e.stateHome(), "mcp-process", "config-sources.json")
	if err := os.MkdirAll(filepath.Dir(record), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(record, []byte(`{"watched": {"`+path+`": "2026-12-01T00:00:00Z"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, e, "", nil, "init")
	if code != 0 || !strings.Contains(out, path) {
		t.Fatalf("init: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	written, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(written, &doc); err != nil {
		t.Fatalf("init wrote invalid JSON: %v\n%s", err, written)
	}
	if c, _ := doc["$comment"].(string); !strings.Contains(c, "mcp-process validate") || doc["description"] == nil {
		t.Errorf("no $comment or description: %v", doc)
	}
	// validate with no --config finds it in the start directory.
	if b, _ := os.ReadFile(record); strings.Contains(string(b), path) {
		t.Errorf("init left %s recorded: %s", path, b)
	}
	v := validate(t, e)
	if len(v.Policy.AllowedWorkingDirectories) != 1 || v.Policy.AllowedWorkingDirectories[0] != e.work {
		t.Errorf("allowedWorkingDirectories %v, want %s", v.Policy.AllowedWorkingDirectories, e.work)
	}
	// A second init leaves the file as it is.
	if err := os.WriteFile(path, []byte(`{"allowedExecutables": ["echo"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, e, "", nil, "init", "--profile", "cicd")
	if b, _ := os.ReadFile(path); code != 2 || !strings.Contains(errOut, "exists") || string(b) != `{"allowedExecutables": ["echo"]}` {
		t.Errorf("init over an existing file: exit %d, stderr %q, file now %q", code, errOut, b)
	}
	// --output, another profile; an unknown profile writes nothing.
	_, errOut, code = runCLI(t, e, "", nil, "init", "--profile", "nope", "--output", "nope.json")
	if _, err := os.Stat(filepath.Join(e.work, "nope.json")); code != 2 || !strings.Contains(errOut, "profile") || err == nil {
		t.Errorf("unknown profile: exit %d, stderr %q, file: %v", code, errOut, err)
	}
	if os.Geteuid() != 0 {
		return // cicd's namespaces need root
	}
	_, errOut, code = runCLI(t, e, "", nil, "init", "--profile", "cicd", "--output", "ci.json")
	if code != 0 {
		t.Fatalf("init --profile cicd: exit %d: %s", code, errOut)
	}
	v = validate(t, e, "--config", filepath.Join(e.work, "ci.json"))
	if len(v.Policy.AllowedTimeWindows) != 1 || v.Policy.AllowedTimeWindows[0] != "* 00:00-24:00" {
		t.Errorf("cicd file: %+v", v.Policy)
	}
}
