//go:build linux

package escape

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Environment that runs code (SPEC 7.1): an agent asks an allowed program
// (git, python3) to run with a variable that makes it run the agent's own
// command. The layer is the environment check: the launch is refused with
// ENV_INVALID and the marker the payload would write never appears. No
// configuration lets these variables through (an allowedEnvVars naming
// one is refused at start), so the baseline runs the same program with the
// same variable directly on the host: the payload is real and writes the
// marker. A control launch through the server without the variable runs,
// so the refusal is the variable's, not the executable's.

// envAttack is one attempt: the program and arguments, the variables that
// carry the payload, and the marker the payload writes.
type envAttack struct {
	exe    string
	args   []string
	env    map[string]string
	marker string
}

func TestEscape_GitConfigEnvAlias_environment(t *testing.T) {
	eitherServer(t)
	git := needProgram(t, "/usr/bin/git")
	e := newEnv(t)
	marker := filepath.Join(e.dir, "pwned-git-config")
	runEnvAttack(t, e, envAttack{
		exe:  git,
		args: []string{"x"},
		env: map[string]string{
			"GIT_CONFIG_COUNT":   "1",
			"GIT_CONFIG_KEY_0":   "alias.x",
			"GIT_CONFIG_VALUE_0": "!touch " + marker,
		},
		marker: marker,
	}, []string{"--version"})
}

func TestEscape_GitSSH_environment(t *testing.T) {
	eitherServer(t)
	git := needProgram(t, "/usr/bin/git")
	e := newEnv(t)
	marker := filepath.Join(e.dir, "pwned-git-ssh")
	// The program GIT_SSH names: any program the agent could place, here a
	// script that writes the marker.
	helper := filepath.Join(e.dir, "fake-ssh")
	if err := os.WriteFile(helper, []byte("#!/bin/sh\ntouch "+marker+"\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	runEnvAttack(t, e, envAttack{
		exe:    git,
		args:   []string{"ls-remote", "ssh://example.invalid/repo.git"},
		env:    map[string]string{"GIT_SSH": helper, "GIT_TERMINAL_PROMPT": "0"},
		marker: marker,
	}, []string{"--version"})
}

func TestEscape_PythonUserBasePth_environment(t *testing.T) {
	eitherServer(t)
	py := needProgram(t, "/usr/bin/python3")
	e := newEnv(t)
	marker := filepath.Join(e.dir, "pwned-pth")
	base := filepath.Join(e.dir, "userbase")
	// Where this python looks for user site-packages under that base.
	q := exec.Command(py, "-c", "import site; print(site.getusersitepackages())")
	q.Env = []string{"PYTHONUSERBASE=" + base}
	out, err := q.Output()
	if err != nil {
		t.Fatalf("python3: %v", err)
	}
	site := strings.TrimSpace(string(out))
	if !strings.HasPrefix(site, base+"/") {
		t.Fatalf("python3 puts user site-packages at %q, not under PYTHONUSERBASE %s", site, base)
	}
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	// A .pth line that starts with "import" is executed by site.py at start.
	pth := "import os; os.close(os.open(" + pyQuote(marker) + ", os.O_CREAT | os.O_WRONLY, 0o644))\n"
	if err := os.WriteFile(filepath.Join(site, "evil.pth"), []byte(pth), 0o644); err != nil {
		t.Fatal(err)
	}
	runEnvAttack(t, e, envAttack{
		exe:    py,
		args:   []string{"-c", "pass"},
		env:    map[string]string{"PYTHONUSERBASE": base},
		marker: marker,
	}, []string{"-c", "pass"})
}

// runEnvAttack runs the baseline (the program with the variables, directly
// on the host: the marker must appear), then the same launch through
// `mcp-process serve` (process_run: ENV_INVALID naming a variable, no
// marker), then the control launch through the server without them (it
// runs and exits 0).
func runEnvAttack(t *testing.T, e *testEnv, a envAttack, controlArgs []string) {
	t.Helper()
	// Baseline: the payload works when the variables reach the program
	// (run by the server's user).
	cmd := asServerUser(exec.Command(a.exe, a.args...))
	cmd.Dir = e.work
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + filepath.Join(e.dir, "home"), "LANG=C.UTF-8"}
	for n, v := range a.env {
		cmd.Env = append(cmd.Env, n+"="+v)
	}
	out, _ := cmd.CombinedOutput() // git exits non-zero after running the payload; the marker decides
	if _, err := os.Stat(a.marker); err != nil {
		t.Fatalf("baseline without the environment layer: the payload did not run (%v), so the test proves nothing; output:\n%s", err, out)
	}
	t.Logf("baseline without the environment layer: %s %q with %s wrote %s", a.exe, a.args, names(a.env), a.marker)
	if err := os.Remove(a.marker); err != nil {
		t.Fatal(err)
	}

	s := startStdio(t, e, map[string]any{
		"allowedExecutables":        []string{a.exe},
		"allowedWorkingDirectories": []string{e.work},
		"auditLogPath":              e.audit,
		"maxLaunchesPerMinute":      1000,
	})
	res := s.call(t, "process_run", map[string]any{"executable": a.exe, "args": a.args, "cwd": e.work, "env": a.env, "waitTimeout": 20000})
	if !res.IsError {
		t.Fatalf("ESCAPE: the launch with %s was accepted: %s", names(a.env), res.text)
	}
	var body struct {
		Error struct{ Code, Layer, Message, Remedy string } `json:"error"`
	}
	if err := json.Unmarshal([]byte(res.text), &body); err != nil {
		t.Fatalf("error result is not JSON: %q", res.text)
	}
	if body.Error.Code != "ENV_INVALID" || !strings.Contains(body.Error.Message, "always blocked") {
		t.Fatalf("want ENV_INVALID (always blocked), got %+v", body.Error)
	}
	named := false
	for n, v := range a.env {
		if strings.Contains(body.Error.Message, n) {
			named = true
		}
		if len(v) > 3 && strings.Contains(res.text, v) {
			t.Errorf("the refusal shows the value of %s: %s", n, res.text)
		}
	}
	if !named {
		t.Errorf("the refusal names none of %s: %+v", names(a.env), body.Error)
	}
	if _, err := os.Stat(a.marker); !os.IsNotExist(err) {
		t.Fatalf("ESCAPE: %s exists after the refused launch (%v)", a.marker, err)
	}
	t.Logf("stopped by the environment layer: %s: %s", body.Error.Code, body.Error.Message)

	// Control: the same program runs under this policy without the variables.
	ctl := s.call(t, "process_run", map[string]any{"executable": a.exe, "args": controlArgs, "cwd": e.work, "waitTimeout": 20000})
	var run struct {
		ExitCode *int `json:"exitCode"`
	}
	if ctl.IsError || json.Unmarshal([]byte(ctl.text), &run) != nil || run.ExitCode == nil || *run.ExitCode != 0 {
		t.Fatalf("control launch %s %q without the variables did not run cleanly: %s", a.exe, controlArgs, ctl.text)
	}
}

func needProgram(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s is not installed on this host: %v", path, err)
	}
	return path
}

func pyQuote(s string) string {
	b, _ := json.Marshal(s) // a JSON string is a valid Python string literal for these paths
	return string(b)
}

func names(env map[string]string) string {
	var n []string
	for k := range env {
		n = append(n, k)
	}
	return strings.Join(n, ",")
}

// stdioServer is `mcp-process serve` over stdio, driven by the SDK client.
type stdioServer struct{ session *mcp.ClientSession }

type callResult struct {
	IsError bool
	text    string
}

func startStdio(t *testing.T, e *testEnv, cfg map[string]any) *stdioServer {
	t.Helper()
	path := e.writeConfig(t, cfg)
	cmd := e.serverCmd(context.Background(), "serve", "--config", path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "escape-test", Version: "1.0.0"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect to mcp-process serve: %v\nstderr: %s", err, stderr.String())
	}
	t.Cleanup(func() { session.Close() })
	return &stdioServer{session: session}
}

func (s *stdioServer) call(t *testing.T, tool string, args map[string]any) callResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := s.session.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	r := callResult{IsError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			r.text += tc.Text
		}
	}
	return r
}
