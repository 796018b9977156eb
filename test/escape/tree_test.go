//go:build linux

package escape

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SPEC 7.1, executablePolicyScope "tree": execve of a file the executable
// policy would not launch fails in the whole tree (Landlock EXECUTE on
// exactly the allowed files, their interpreters and loaders, and the
// helpers). Each attack is an allowed tool made to run a shell (or another
// program) on the attacker's behalf; each baseline is the same launch with
// executablePolicyScope "launch", where the tool's child runs.

var (
	treeScope   = layer{"executablePolicyScope": "tree"}
	launchScope = layer{"executablePolicyScope": "launch"}
	// noLandlock: writes not confined (landlock is on by default where the
	// host has it, SPEC 7.1a).
	noLandlock = layer{"landlock": false}
	// noFSDomain: no Landlock domain that handles a filesystem right: the
	// kernel refuses mount(2) to such a domain, whatever the capabilities.
	noFSDomain = layer{"executablePolicyScope": "launch", "landlock": false}
)

// tool is the real path of an executable this host must have for the test.
func tool(t *testing.T, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	t.Skipf("none of %v on this host", paths)
	return ""
}

// runPlain runs `mcp-process run --config CFG -- EXE ARGS...` (as the
// mode's server) and returns
// its exit code and output (the target's own, not a probe's report).
func (e *testEnv) runPlain(t *testing.T, cfg map[string]any, exe string, args ...string) (int, string) {
	t.Helper()
	path := e.writeConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v := e.serverCmd(ctx, "validate", "--config", path)
	if out, err := v.CombinedOutput(); err != nil {
		t.Fatalf("mcp-process validate refused the config (%v): the layer under test is not available here:\n%s", err, out)
	}
	cmd := e.serverCmd(ctx, append([]string{"run", "--config", path, "--", exe}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("mcp-process run: %v\n%s", err, out.String())
	}
	return cmd.ProcessState.ExitCode(), out.String()
}

// markerAttack launches exe args (which, if the attack works, creates
// marker) under the tree scope and then the launch scope.
func markerAttack(t *testing.T, e *testEnv, exes []string, marker string, exe string, args ...string) {
	t.Helper()
	cfg := func(l layer) map[string]any {
		c := e.config(l)
		c["allowedExecutables"] = exes
		return c
	}
	code, out := e.runPlain(t, cfg(treeScope), exe, args...)
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("ESCAPE: %s ran a program outside the policy under the tree scope (exit %d):\n%s", exe, code, out)
	}
	t.Logf("stopped by the tree scope (exit %d): %s", code, out)
	code, out = e.runPlain(t, cfg(launchScope), exe, args...)
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("baseline with executablePolicyScope launch: the attack should work, so that the tree scope is what stops it (exit %d):\n%s", code, out)
	}
	t.Logf("baseline with executablePolicyScope launch: %s created (exit %d)", marker, code)
}

func TestEscape_GitAliasRunsShell_treeScope(t *testing.T) {
	eitherServer(t)
	git := tool(t, "/usr/bin/git")
	e := newEnv(t)
	marker := filepath.Join(e.work, "git-alias-marker")
	markerAttack(t, e, []string{git}, marker, git, "-c", "alias.x=!touch "+marker, "x")
}

func TestEscape_NodeExecSyncShell_treeScope(t *testing.T) {
	eitherServer(t)
	node := tool(t, "/usr/bin/node", "/usr/local/bin/node")
	e := newEnv(t)
	marker := filepath.Join(e.work, "node-marker")
	markerAttack(t, e, []string{node}, marker, node, "-e", "require('child_process').execSync('touch "+marker+"')")
}

func TestEscape_PythonOsSystemShell_treeScope(t *testing.T) {
	eitherServer(t)
	py := tool(t, "/usr/bin/python3.11", "/usr/bin/python3")
	e := newEnv(t)
	marker := filepath.Join(e.work, "python-marker")
	markerAttack(t, e, []string{py}, marker, py, "-c", "__import__('os').system('touch "+marker+"')")
}

// A program that is not a shell, spawned directly (no shell involved).
func TestEscape_PythonSpawnsOtherProgram_treeScope(t *testing.T) {
	eitherServer(t)
	py := tool(t, "/usr/bin/python3.11", "/usr/bin/python3")
	touch := tool(t, "/usr/bin/touch", "/bin/touch")
	e := newEnv(t)
	marker := filepath.Join(e.work, "spawn-marker")
	markerAttack(t, e, []string{py}, marker, py, "-c", "__import__('subprocess').run(['"+touch+"', '"+marker+"'])")
}

// helperExecutables run inside a tree but are never launched by an agent.
func TestEscape_HelperRunsInTreeButIsNotLaunched_treeScope(t *testing.T) {
	eitherServer(t)
	py := tool(t, "/usr/bin/python3.11", "/usr/bin/python3")
	touch := tool(t, "/usr/bin/touch", "/bin/touch")
	e := newEnv(t)
	marker := filepath.Join(e.work, "helper-marker")
	cfg := e.config(treeScope, layer{"helperExecutables": []string{touch}})
	cfg["allowedExecutables"] = []string{py}
	code, out := e.runPlain(t, cfg, touch, marker)
	if code != 126 {
		t.Fatalf("launching a helper: exit %d, want 126 (denied):\n%s", code, out)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("ESCAPE: the helper was launched")
	}
	code, out = e.runPlain(t, cfg, py, "-c", "__import__('subprocess').run(['"+touch+"', '"+marker+"'], check=True)")
	if _, err := os.Stat(marker); err != nil || code != 0 {
		t.Fatalf("the helper did not run inside the tree (exit %d):\n%s", code, out)
	}
}
