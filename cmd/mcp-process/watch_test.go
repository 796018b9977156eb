package main

import (
	"os"
	"path/filepath"
	"testing"
)

// Without a mount namespace the policy's files cannot be sealed: one that
// exists where the children may write is what refuses the start.
func TestUnsealable(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	other := filepath.Join(dir, "other")
	for _, d := range []string{work, other, filepath.Join(work, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(work, link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(work, "sub", "audit.log"), filepath.Join(other, "config.json")} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name            string
		files, writable []string
		want, wantDir   string
	}{
		{"outside", []string{filepath.Join(other, "config.json")}, []string{work}, "", ""},
		{"beneath", []string{filepath.Join(other, "config.json"), filepath.Join(work, "sub", "audit.log")}, []string{work}, filepath.Join(work, "sub", "audit.log"), work},
		{"through a link to the allowed directory", []string{filepath.Join(work, "sub", "audit.log")}, []string{link}, filepath.Join(work, "sub", "audit.log"), link},
		{"absent files are the record's", []string{filepath.Join(work, "mcp-process-config.json")}, []string{work}, "", ""},
		{"a prefix that is not a parent", []string{filepath.Join(other, "config.json")}, []string{filepath.Join(dir, "oth")}, "", ""},
	}
	for _, c := range cases {
		got, gotDir := unsealable(c.files, c.writable)
		if got != c.want || gotDir != c.wantDir {
			t.Errorf("%s: unsealable = %q, %q; want %q, %q", c.name, got, gotDir, c.want, c.wantDir)
		}
	}
	if got := existingAncestor(filepath.Join(link, "config", "x")); got != work {
		t.Errorf("existingAncestor through a link = %q, want %q", got, work)
	}
}
