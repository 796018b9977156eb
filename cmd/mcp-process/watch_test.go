package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExistingAncestorThroughLink(t *testing.T) {
	dir := t.TempDir()
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(work, link); err != nil {
		t.Fatal(err)
	}
	if got := existingAncestor(filepath.Join(link, "config", "x")); got != work {
		t.Errorf("existingAncestor through a link = %q, want %q", got, work)
	}
	if !insideAny(filepath.Join(work, "sub"), []string{link}) || insideAny(filepath.Join(dir, "workshop"), []string{work}) {
		t.Error("insideAny: a link to the directory, or a prefix that is not a parent")
	}
}

// placementEnv is a start directory with an allowed working directory
// (work), a directory outside it (out) and a state directory (XDG_STATE_HOME)
// outside both.
type placementEnv struct{ dir, work, out, state string }

func newPlacementEnv(t *testing.T) placementEnv {
	dir := t.TempDir()
	e := placementEnv{dir, filepath.Join(dir, "work"), filepath.Join(dir, "out"), filepath.Join(dir, "state")}
	for _, d := range []string{e.work, e.out, e.state, filepath.Join(e.work, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Dir(dir), 0o755) // the children reach their homes beneath state
	os.Chmod(dir, 0o755)
	t.Setenv("XDG_STATE_HOME", e.state)
	t.Chdir(e.work)
	return e
}

// config writes cfg (over a base that runs /bin/true in work, its logs in
// out) to path and returns path.
func (e placementEnv) config(t *testing.T, path string, keys map[string]any) string {
	t.Helper()
	cfg := map[string]any{
		"allowedWorkingDirectories": []string{e.work},
		"allowedExecutables":        []string{"/bin/true"},
		"auditLogPath":              filepath.Join(e.out, "audit.log"),
	}
	for k, v := range keys {
		cfg[k] = v
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SPEC 7.1a: with Landlock, each kind of the policy's files in or beneath
// a directory the children may write refuses the start (exit 2), naming
// the key and the directory, even though a root server gives every child
// a mount namespace (where the file would be sealed read-only: a seal the
// host loses when it renames over the file, and a child bypasses by
// renaming a directory above it).
func TestStartRefusesPolicyFileWhereChildrenWrite(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a root server always has a mount namespace for its children, which this test is about")
	}
	e := newPlacementEnv(t)
	key := filepath.Join(e.work, "sub", "audit.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte("k3y!"), 8), 0o600); err != nil {
		t.Fatal(err)
	}
	exeDir := ""
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exeDir = filepath.Dir(real)
		}
	}
	cases := []struct {
		name, configAt string
		keys           map[string]any
		want           string
	}{
		{"auditLogPath", e.out, map[string]any{"auditLogPath": filepath.Join(e.work, "audit.log")}, "auditLogPath"},
		{"auditLogPath beneath", e.out, map[string]any{"auditLogPath": filepath.Join(e.work, "sub", "logs", "audit.log")}, "auditLogPath"},
		{"securityViolationLogPath", e.out, map[string]any{"securityViolationLogPath": filepath.Join(e.work, "sub", "v.log")}, "securityViolationLogPath"},
		{"auditSigningKeyFile", e.out, map[string]any{"auditSigningKeyFile": key}, "auditSigningKeyFile"},
		{"config file", filepath.Join(e.work, "sub"), nil, "the config file"},
		{"writablePaths", e.dir, map[string]any{"writablePaths": []string{e.out}}, "auditLogPath"},
		{"server binary beneath", e.out, map[string]any{"allowedWorkingDirectories": []string{e.work, filepath.Dir(exeDir)}}, "the server binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := e.config(t, filepath.Join(c.configAt, strings.ReplaceAll(c.name, " ", "-")+".json"), c.keys)
			var stdout, stderr bytes.Buffer
			code := run([]string{"run", "--config", path, "--", "/bin/true"}, nil, &stdout, &stderr)
			if code != 2 || !strings.Contains(stderr.String(), c.want) || !strings.Contains(stderr.String(), "where the children may write") {
				t.Fatalf("exit %d, want 2 naming %q and \"writable\":\n%s", code, c.want, stderr.String())
			}
			loaded, _, err := loadPolicy(commonFlags{config: path})
			if err != nil {
				t.Fatal(err)
			}
			if iso, _ := isolationOf(loaded.Config); len(iso.Private) == 0 || !iso.Landlock {
				t.Fatalf("the case needs a mount namespace and Landlock: private %v, landlock %v", iso.Private, iso.Landlock)
			}
		})
	}
	// The record of config sources: the state directory inside work.
	t.Run("record of config sources", func(t *testing.T) {
		path := e.config(t, filepath.Join(e.out, "record.json"), nil)
		t.Setenv("XDG_STATE_HOME", filepath.Join(e.work, "sub", "state"))
		var stdout, stderr bytes.Buffer
		if code := run([]string{"run", "--config", path, "--", "/bin/true"}, nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "record of config sources") {
			t.Fatalf("exit %d, want 2 naming the record:\n%s", code, stderr.String())
		}
	})
	// The config file directly in an allowed working directory (as `init`
	// writes it) keeps its seal: no child may rename it or that directory,
	// and the server never renames over it. Not so without a mount
	// namespace to seal it in (below).
	t.Run("config file directly in an allowed directory", func(t *testing.T) {
		path := e.config(t, filepath.Join(e.work, "mcp-process-config.json"), nil)
		loaded, pol, err := loadPolicy(commonFlags{config: path})
		if err != nil {
			t.Fatal(err)
		}
		iso, _ := isolationOf(loaded.Config)
		if err := placePolicyFiles(loaded.Config, &iso, pol); err != nil {
			t.Fatalf("the config file directly in the allowed directory refused: %v", err)
		}
		iso.Private = nil
		if err := placePolicyFiles(loaded.Config, &iso, pol); err == nil || !strings.Contains(err.Error(), "the config file") {
			t.Fatalf("without a mount namespace (no seal) the config file in the allowed directory: %v", err)
		}
	})
	// The server binary directly in an allowed working directory (the
	// README's first command builds ./mcp-process in the directory it
	// then serves): sealed, as the config file there.
	t.Run("server binary directly in an allowed directory", func(t *testing.T) {
		path := e.config(t, filepath.Join(e.out, "exe.json"), map[string]any{"allowedWorkingDirectories": []string{e.work, exeDir}})
		loaded, pol, err := loadPolicy(commonFlags{config: path})
		if err != nil {
			t.Fatal(err)
		}
		iso, _ := isolationOf(loaded.Config)
		if err := placePolicyFiles(loaded.Config, &iso, pol); err != nil {
			t.Fatalf("the binary directly in the allowed directory refused: %v", err)
		}
		iso.Private = nil
		if err := placePolicyFiles(loaded.Config, &iso, pol); err == nil || !strings.Contains(err.Error(), "where the children may write") {
			t.Fatalf("without a mount namespace (no seal) the policy's files where the children write: %v", err)
		}
	})
	// Every file outside: placement lets the start go on.
	t.Run("outside", func(t *testing.T) {
		path := e.config(t, filepath.Join(e.out, "ok.json"), map[string]any{"securityViolationLogPath": filepath.Join(e.out, "v.log")})
		loaded, pol, err := loadPolicy(commonFlags{config: path})
		if err != nil {
			t.Fatal(err)
		}
		iso, _ := isolationOf(loaded.Config)
		if err := placePolicyFiles(loaded.Config, &iso, pol); err != nil {
			t.Fatalf("a config with every policy file outside the children's writable set refused: %v", err)
		}
	})
}

// SPEC 7.1a: without Landlock the start goes on, and the policy's files
// that the children's uid could replace (a directory at or above them it
// may write) are named among the missing guarantees; those it cannot are
// not.
func TestMissingGuaranteeNamesExposedPolicyFiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the children are uid 65534 and the test gives them a directory")
	}
	e := newPlacementEnv(t)
	open := filepath.Join(e.dir, "open") // writable by the children's uid, outside their working directory
	if err := os.Mkdir(open, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(open, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	missing := func(t *testing.T, keys map[string]any) string {
		t.Helper()
		path := e.config(t, filepath.Join(e.out, "nolandlock.json"), keys)
		loaded, _, err := loadPolicy(commonFlags{config: path})
		if err != nil {
			t.Fatal(err)
		}
		if loaded.Config.Landlock {
			t.Fatal("landlock: false was not taken")
		}
		return layerStates(loaded.Config, nil)["missingGuarantees"]
	}
	got := missing(t, map[string]any{"landlock": false, "auditLogPath": filepath.Join(open, "audit.log")})
	if !strings.Contains(got, "auditLogPath") || !strings.Contains(got, filepath.Join(open, "audit.log")) || !strings.Contains(got, "landlock is false") {
		t.Fatalf("missingGuarantees does not name the exposed audit log:\n%s", got)
	}
	if strings.Contains(got, filepath.Join(e.out, "nolandlock.json")) {
		t.Errorf("the config file, in a directory only root may write, is named:\n%s", got)
	}
	// Baseline: the log where uid 65534 may not write is not named.
	if got := missing(t, map[string]any{"landlock": false}); strings.Contains(got, "auditLogPath") {
		t.Fatalf("a log only root may reach is named as exposed:\n%s", got)
	}
	// And with Landlock the entry is never there (placement refuses instead).
	path := e.config(t, filepath.Join(e.out, "landlock.json"), map[string]any{"auditLogPath": filepath.Join(open, "audit.log")})
	loaded, _, err := loadPolicy(commonFlags{config: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := layerStates(loaded.Config, nil)["missingGuarantees"]; strings.Contains(got, "policy's files") {
		t.Fatalf("with landlock the exposed-files entry appears:\n%s", got)
	}
}
