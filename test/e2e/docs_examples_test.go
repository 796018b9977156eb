//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The example files the docs ship (docs/clients.md): the systemd unit
// and the MCP registry's server.json. The Containerfile is not tested
// (no container engine on the test machines).

// repoRoot is the repository's top directory (the tests run in test/e2e).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSystemdUnitVerifies: docs/examples/mcp-process.service passes
// `systemd-analyze verify` with its ExecStart pointed at the built binary,
// without a single warning (an unknown or misspelt key is only a warning,
// exit status 0, so any output naming the unit fails the test).
func TestSystemdUnitVerifies(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed on this host: the unit cannot be verified")
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "examples", "mcp-process.service"))
	if err != nil {
		t.Fatal(err)
	}
	const installed = "/usr/local/bin/mcp-process"
	if !bytes.Contains(unit, []byte("ExecStart="+installed+" serve --http 127.0.0.1:8080 --config /etc/mcp-process.json")) {
		t.Fatalf("the unit's ExecStart is not %s serve --http 127.0.0.1:8080 --config /etc/mcp-process.json:\n%s", installed, unit)
	}
	// verify checks that ExecStart's binary exists: use the one just built.
	path := filepath.Join(t.TempDir(), "mcp-process.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte(installed), []byte(serverBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "mcp-process.service") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

// TestRegistryServerJSON: server.json is strict JSON with the fields the
// MCP registry's schema requires (name, description, version) in the
// shapes it allows, and its version is the binary's.
func TestRegistryServerJSON(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s struct {
		Schema      string `json:"$schema"`
		Name        string `json:"name"`
		Title       string `json:"title"`
		Description string `json:"description"`
		Version     string `json:"version"`
		Repository  *struct {
			URL    string `json:"url"`
			Source string `json:"source"`
		} `json:"repository"`
	}
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("server.json: %v", err)
	}
	if dec.More() {
		t.Fatal("server.json: more than one JSON value")
	}
	if !strings.HasPrefix(s.Schema, "https://static.modelcontextprotocol.io/schemas/") {
		t.Errorf("$schema %q is not a published server.json schema", s.Schema)
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+$`).MatchString(s.Name) || len(s.Name) > 200 {
		t.Errorf("name %q is not reverse-DNS namespace/name with exactly one slash", s.Name)
	}
	if n := len([]rune(s.Description)); n < 1 || n > 100 {
		t.Errorf("description is %d characters, the registry allows 1 to 100", n)
	}
	if s.Repository == nil || s.Repository.URL == "" || s.Repository.Source == "" {
		t.Errorf("repository needs url and source: %+v", s.Repository)
	}
	main, err := os.ReadFile(filepath.Join(root, "cmd", "mcp-process", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^var version = "([^"]+)"`).FindSubmatch(main)
	if m == nil {
		t.Fatal(`cmd/mcp-process/main.go has no var version = "..."`)
	}
	if s.Version != string(m[1]) {
		t.Errorf("server.json version %q, the binary's is %q", s.Version, m[1])
	}
}
