//go:build linux

package compat

import (
	"slices"
	"testing"
)

// Counterparts of server.minimal.e2e.spec.ts (3 tests): a server of its
// own, the requests in the original's order.
func TestOriginalMinimalE2E(t *testing.T) {
	s := startServer(t)
	run(t, "Minimal E2E: should respond to initialize request", func(t *testing.T) {
		r := s.mustRequest(t, "initialize", map[string]any{
			"protocolVersion": "2024-11-05",
			"capabilities":    map[string]any{},
			"clientInfo":      map[string]any{"name": "minimal-test-client", "version": "1.0.0"},
		})
		checkInitialize(t, r)
	})
	run(t, "Minimal E2E: should respond to tools/list request", func(t *testing.T) {
		names := toolNames(t, s.mustRequest(t, "tools/list", nil))
		for _, n := range []string{"process_start", "process_list"} {
			if !slices.Contains(names, n) {
				t.Errorf("tools/list lacks %s: %v", n, names)
			}
		}
	})
	run(t, "Minimal E2E: should launch a basic process successfully", func(t *testing.T) {
		s.mustStart(t, map[string]any{"executable": "node", "args": []string{"--version"}})
	})
}

// checkInitialize is what both suites check of an initialize result.
func checkInitialize(t *testing.T, r map[string]any) {
	t.Helper()
	if r["protocolVersion"] != "2024-11-05" {
		t.Errorf("protocolVersion %v, want 2024-11-05", r["protocolVersion"])
	}
	info, _ := r["serverInfo"].(map[string]any)
	if info == nil || info["name"] != "mcp-process" {
		t.Errorf("serverInfo %v, want name mcp-process", r["serverInfo"])
	}
	caps, _ := r["capabilities"].(map[string]any)
	if caps == nil || caps["tools"] == nil {
		t.Errorf("capabilities %v, want tools", r["capabilities"])
	}
}

func toolNames(t *testing.T, r map[string]any) []string {
	t.Helper()
	tools, _ := r["tools"].([]any)
	if len(tools) == 0 {
		t.Fatalf("tools/list: no tools: %v", r)
	}
	var names []string
	for _, x := range tools {
		m, _ := x.(map[string]any)
		n, _ := m["name"].(string)
		names = append(names, n)
	}
	return names
}
