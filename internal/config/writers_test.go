package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A config file someone else could have written is refused, naming it
// (SPEC 7.1a: the agent cannot change the policy for the next start).
func TestConfigFileWriters(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, LocalFile)
	load := func() error {
		_, err := Load(LoadOptions{Cwd: dir, Getenv: testEnv("HOME", dir)})
		return err
	}
	if err := os.WriteFile(p, []byte(`{"allowedExecutables": ["/bin/true"], "allowedWorkingDirectories": ["`+dir+`"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := load(); err != nil {
		t.Fatalf("the server user's own 0644 file: %v", err)
	}
	os.Chmod(p, 0o664)
	if err := load(); err == nil || !strings.Contains(err.Error(), "writable by its group or by others") || !strings.Contains(err.Error(), p) {
		t.Fatalf("a group-writable config file: %v", err)
	} else {
		wantConfigError(t, err, errcode.InvalidInput, "")
	}
	os.Chmod(p, 0o644)
	if os.Geteuid() != 0 {
		t.Skip("chown to another uid needs root")
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := load(); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("a config file owned by the children's uid: %v", err)
	}
}
