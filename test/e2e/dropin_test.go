//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Drop-in for the original server's users (SPEC 7.3): its config files and
// its clients' calls work here.

// originalStyleConfig is a config file as the original server's users
// write them: "$schema" and "description" for their editor, an empty
// allowedWorkingDirectories, bare executable names.
func originalStyleConfig(e *testEnv, exes ...string) map[string]any {
	return map[string]any{
		"$schema":                   "https://json-schema.org/draft-07/schema#",
		"description":               "team config carried over from the TypeScript server",
		"$comment":                  "reviewed by the platform team",
		"allowedExecutables":        exes,
		"blockSetuidExecutables":    true,
		"blockShellInterpreters":    true,
		"defaultResourceLimits":     map[string]any{"maxCpuPercent": 80, "maxMemoryMB": 512, "maxFileDescriptors": 512, "maxCpuTime": 300, "maxProcesses": 5},
		"maxConcurrentProcesses":    5,
		"maxProcessLifetime":        1800,
		"maxLaunchesPerMinute":      1000,
		"allowProcessTermination":   true,
		"allowStdinInput":           true,
		"allowOutputCapture":        true,
		"enableAuditLog":            true,
		"requireConfirmation":       false,
		"additionalBlockedEnvVars":  []string{},
		"allowedWorkingDirectories": []string{},
	}
}

// runCLIIn is runCLI started in dir.
func runCLIIn(t *testing.T, e *testEnv, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, serverBin, args...)
	cmd.Dir = dir
	cmd.Env = e.environ()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("mcp-process %v: %v", args, err)
	}
	return out.String(), errb.String(), 0
}

type validateOutput struct {
	Valid       bool     `json:"valid"`
	Warnings    []string `json:"warnings"`
	Differences []string `json:"differences"`
	Policy      struct {
		AllowedWorkingDirectories []string `json:"allowedWorkingDirectories"`
		AllowedTimeWindows        []string `json:"allowedTimeWindows"`
	} `json:"policy"`
}

func validate(t *testing.T, e *testEnv, args ...string) validateOutput {
	t.Helper()
	out, errOut, code := runCLI(t, e, "", nil, append([]string{"validate"}, args...)...)
	if code != 0 {
		t.Fatalf("validate %v: exit %d: %s", args, code, errOut)
	}
	var v validateOutput
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("validate output: %v\n%s", err, out)
	}
	return v
}

// TestOriginalConfigFile: a config file in the original's style validates
// (saying where we differ), starts, and runs its processes in the
// directory the server was started in.
func TestOriginalConfigFile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := originalStyleConfig(e, "pwd", "sleep", "echo")
	path := e.writeConfig(t, "original.json", cfg)

	v := validate(t, e, "--config", path)
	if len(v.Policy.AllowedWorkingDirectories) != 1 || v.Policy.AllowedWorkingDirectories[0] != e.work {
		t.Errorf("allowedWorkingDirectories %v, want the start directory %s", v.Policy.AllowedWorkingDirectories, e.work)
	}
	for _, key := range []string{"allowedExecutables:", "blockShellInterpreters:", "environment:", "runAsUser:", "allowedWorkingDirectories:"} {
		found := false
		for _, d := range v.Differences {
			if strings.HasPrefix(d, key) && !strings.Contains(d, "\n") {
				found = true
			}
		}
		if !found {
			t.Errorf("validate's differences have no line for %s: %q", key, v.Differences)
		}
	}
	// The same lines on stderr, one each, for a human; the exit status is 0.
	_, errOut, code := runCLI(t, e, "", nil, "validate", "--config", path)
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if code != 0 || len(lines) != len(v.Differences)+len(v.Warnings) {
		t.Errorf("validate: exit %d, %d stderr lines for %d differences and %d warnings:\n%s", code, len(lines), len(v.Differences), len(v.Warnings), errOut)
	}
	for i, d := range v.Differences {
		if i+len(v.Warnings) < len(lines) && lines[i+len(v.Warnings)] != "mcp-process: differs from the original server: "+d {
			t.Errorf("stderr line %q, want the difference %q", lines[i+len(v.Warnings)], d)
		}
	}

	sub := filepath.Join(e.work, "sub")
	if err := os.Mkdir(sub, 0o777); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, e, cfg)
	var r runResult
	s.ok("process_run", map[string]any{"executable": "pwd"}, &r)
	if strings.TrimSpace(r.Stdout) != e.work {
		t.Errorf("pwd without cwd printed %q, want the start directory %s", r.Stdout, e.work)
	}
	// A relative cwd is relative to the first allowed directory.
	s.ok("process_run", map[string]any{"executable": "pwd", "cwd": "sub"}, &r)
	if strings.TrimSpace(r.Stdout) != sub {
		t.Errorf("pwd in cwd \"sub\" printed %q, want %s", r.Stdout, sub)
	}
	s.failCode("process_run", map[string]any{"executable": "pwd", "cwd": ".."}, "CWD_NOT_ALLOWED")
	s.failCode("process_run", map[string]any{"executable": "pwd", "cwd": "/"}, "CWD_NOT_ALLOWED")

	// encoding "utf-8", the original's default name.
	out := s.output(map[string]any{"pid": r.Pid, "encoding": "utf-8"})
	if out.Encoding != "utf8" || strings.TrimSpace(out.Stdout) != sub {
		t.Errorf("process_get_output utf-8: %+v", out)
	}
}

// TestServiceByName: an original client starts a service, finds and stops
// it by its name, with a health check given as a command line.
func TestServiceByName(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, originalStyleConfig(e, "sleep", "echo"))
	start := map[string]any{"name": "api", "executable": "sleep", "args": []string{"300"},
		"healthCheck":   map[string]any{"command": "echo ready", "interval": 1000, "timeout": 1000},
		"restartPolicy": map[string]any{"enabled": true, "maxRetries": 3, "backoffMs": 100}}
	var st serviceStatus
	s.ok("process_start_service", start, &st)
	if st.ServiceID != "api" || st.Pid <= 0 {
		t.Fatalf("process_start_service: %+v, want serviceId api", st)
	}
	pid := st.Pid
	e2 := s.failCode("process_start_service", start, "INVALID_INPUT")
	if !strings.Contains(e2.Message, `"api"`) {
		t.Errorf("a second service named api: %+v", e2)
	}
	eventually(t, 20*time.Second, "service api healthy through its command-line health check", func() (bool, string) {
		s.ok("process_get_service", map[string]any{"serviceId": "api"}, &st)
		return st.Health == "healthy", mustJSON(st)
	})
	s.ok("process_stop_service", map[string]any{"serviceId": "api"}, &st)
	if st.State != "stopped" {
		t.Errorf("after process_stop_service: %+v", st)
	}
	waitGone(t, pid, 10*time.Second, false)
	// The name is free again once the service stopped.
	s.ok("process_start_service", map[string]any{"name": "api", "executable": "sleep", "args": []string{"300"}}, &st)
	if st.ServiceID != "api" || st.Pid == pid {
		t.Errorf("restarted api: %+v", st)
	}
	s.failCode("process_stop_service", map[string]any{"serviceId": "web"}, "PROCESS_NOT_FOUND")
}

// TestGetStatsOriginalShape: process_get_stats has the original's pid,
// state, uptime and stats{} beside today's flat figures.
func TestGetStatsOriginalShape(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/sleep"))
	st := s.start(map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
	var got struct {
		stats
		Pid    int     `json:"pid"`
		State  string  `json:"state"`
		Uptime float64 `json:"uptime"`
		Nested *stats  `json:"stats"`
	}
	s.ok("process_get_stats", map[string]any{"pid": st.Pid}, &got)
	if got.Pid != st.Pid || got.State != "running" || got.Uptime < 0 || got.Nested == nil {
		t.Fatalf("process_get_stats: %+v", got)
	}
	if got.Nested.ThreadCount < 1 || got.Nested.ThreadCount != got.ThreadCount {
		t.Errorf("stats.threadCount %d, flat threadCount %d", got.Nested.ThreadCount, got.ThreadCount)
	}
}

// TestStartedInRootWithoutDirectories: no allowed directory and a server
// started in / refuses to start, naming the key.
func TestStartedInRootWithoutDirectories(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.writeConfig(t, "original.json", originalStyleConfig(e, "echo"))
	for _, args := range [][]string{{"validate", "--config", path}, {"serve", "--config", path}, {"validate"}} {
		out, errOut, code := runCLIIn(t, e, "/", args...)
		if code != 2 || !strings.Contains(errOut, "allowedWorkingDirectories") || !strings.Contains(errOut, "started in /") {
			t.Errorf("mcp-process %v in /: exit %d, stderr %q; want exit 2 naming allowedWorkingDirectories", args, code, errOut)
		}
		if out != "" {
			t.Errorf("mcp-process %v wrote to stdout: %q", args, out)
		}
	}
}

// TestMissingWorkingDirectory: validate warns (exit 0); the launch fails
// with CWD_NOT_FOUND.
func TestMissingWorkingDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	missing := filepath.Join(e.dir, "not-yet")
	cfg := e.config("/bin/echo")
	cfg["allowedWorkingDirectories"] = []string{missing}
	v := validate(t, e, "--config", e.writeConfig(t, "missing.json", cfg))
	if len(v.Warnings) != 1 || !strings.Contains(v.Warnings[0], missing+" does not exist") || !strings.Contains(v.Warnings[0], "CWD_NOT_FOUND") {
		t.Errorf("warnings %q, want one naming %s", v.Warnings, missing)
	}
	s := startServer(t, e, cfg)
	s.failCode("process_run", map[string]any{"executable": "/bin/echo"}, "CWD_NOT_FOUND")
}

// TestProfilesNameNoMissingDirectory: the built-in profiles work in the
// start directory (SPEC 7.3); cicd starts and runs its tools in a jail
// composed at launch (the host's system directories read-only, the
// working directory writable), never refused for a missing /ci/sandbox.
func TestProfilesNameNoMissingDirectory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := validate(t, e, "--profile", "development")
	if len(v.Policy.AllowedWorkingDirectories) != 1 || v.Policy.AllowedWorkingDirectories[0] != e.work {
		t.Errorf("development: allowedWorkingDirectories %v, want %s", v.Policy.AllowedWorkingDirectories, e.work)
	}
	if os.Geteuid() != 0 {
		t.Skip("cicd's namespaces need root (or namespaces.user)")
	}
	v = validate(t, e, "--profile", "cicd")
	if len(v.Policy.AllowedWorkingDirectories) != 1 || v.Policy.AllowedWorkingDirectories[0] != e.work ||
		len(v.Policy.AllowedTimeWindows) != 1 || v.Policy.AllowedTimeWindows[0] != "* 00:00-24:00" {
		t.Errorf("cicd: %+v", v.Policy)
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("no node on this host: cicd's tools are node, npm, yarn, git, docker, kubectl")
	}
	if err := os.Chmod(e.work, 0o777); err != nil { // the children are uid 65534
		t.Fatal(err)
	}
	outside := filepath.Join(e.dir, "outside.txt")
	if err := os.WriteFile(outside, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(e.work, "probe.js")
	if err := os.WriteFile(script, []byte(`const fs = require("fs");
const r = {};
fs.writeFileSync("made.txt", "in the jail");
for (const [k, f] of Object.entries({
  outside: () => fs.readFileSync(process.argv[2]),
  usr: () => fs.writeFileSync("/usr/mcp-process-test", "x"),
  shadow: () => fs.statSync("/etc/shadow").isCharacterDevice(),
  passwd: () => fs.readFileSync("/etc/passwd", "utf8").length > 0,
})) { try { r[k] = String(f()); } catch (e) { r[k] = e.code; } }
console.log(JSON.stringify(r));
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, e, "", nil, "run", "--profile", "cicd", "--", "node", "probe.js", outside)
	if code != 0 {
		t.Fatalf("run --profile cicd: exit %d\nstdout %s\nstderr %s", code, out, errOut)
	}
	var r map[string]string
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &r); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	// A host file beside the working directory is not in the jail; /usr is
	// read-only; /etc/shadow is hidden (/dev/null over it); /etc/passwd is there.
	if r["outside"] != "ENOENT" || r["usr"] != "EROFS" || r["shadow"] != "true" || r["passwd"] != "true" {
		t.Errorf("in the composed jail: %v", r)
	}
	if b, err := os.ReadFile(filepath.Join(e.work, "made.txt")); err != nil || string(b) != "in the jail" {
		t.Errorf("the working directory is not writable in the jail: %q %v", b, err)
	}
	// A user's own missing jail: the remedy says what a jail needs.
	_, errOut, code = runCLI(t, e, "", nil, "validate", "--config",
		e.writeConfig(t, "jail.json", `{"enableChroot": true, "chrootDirectory": "/nonexistent/jail"}`))
	if code != 2 || !strings.Contains(errOut, "chrootDirectory") || !strings.Contains(errOut, "shared libraries") {
		t.Errorf("missing chrootDirectory: exit %d, stderr %q", code, errOut)
	}
}

// TestSchemaListsAnnotationKeys: `mcp-process schema` lists the keys
// editors put in config files, so a file with them validates there.
func TestSchemaListsAnnotationKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, errOut, code := runCLI(t, e, "", nil, "schema")
	if code != 0 {
		t.Fatalf("schema: exit %d: %s", code, errOut)
	}
	var s struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"$schema", "$comment", "description"} {
		if s.Properties[k].Type != "string" {
			t.Errorf("schema property %q: %+v", k, s.Properties[k])
		}
	}
	_, errOut, code = runCLI(t, e, "", nil, "validate", "--config", e.writeConfig(t, "bad.json", `{"description": 1}`))
	if code != 2 || !strings.Contains(errOut, "description") {
		t.Errorf("description of the wrong type: exit %d, stderr %q", code, errOut)
	}
}

// TestSecondInitialize: a second initialize on a stdio session is answered
// with the first one's result, as the original server did (its clients'
// suites initialize again on a live session); the later parameters change
// nothing, and the session goes on.
// A call of a tool that does not exist is an isError result whose text is
// the error JSON, as the original's clients read it.
func TestSecondInitialize(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cmd := exec.Command(serverBin, "serve", "--config", e.writeConfig(t, "config.json", e.config("/bin/echo")))
	cmd.Dir = e.work
	cmd.Env = e.environ()
	cmd.Stderr = &syncBuffer{}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, stdin: stdin, lines: make(chan []byte, 64)}
	go func() { // owner: ends at server stdout EOF
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		for range c.lines {
		}
		cmd.Wait()
	})
	params := map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{}, "clientInfo": map[string]any{"name": "raw", "version": "1"}}
	first := c.request("initialize", params)["result"]
	if first == nil {
		t.Fatal("initialize: no result")
	}
	c.send(map[string]any{"method": "notifications/initialized", "params": map[string]any{}})
	params["clientInfo"] = map[string]any{"name": "someone-else", "version": "2"}
	params["protocolVersion"] = "2024-11-05"
	r := c.request("initialize", params)
	if r["error"] != nil || !reflect.DeepEqual(r["result"], first) {
		t.Errorf("second initialize: %v, want the first result %v", r, first)
	}
	if r := c.request("tools/list", map[string]any{}); r["result"] == nil {
		t.Errorf("tools/list after the second initialize: %v", r)
	}
	r = c.request("tools/call", map[string]any{"name": "process_unknown_tool", "arguments": map[string]any{}})
	res, _ := r["result"].(map[string]any)
	content, _ := res["content"].([]any)
	if res == nil || res["isError"] != true || len(content) == 0 {
		t.Fatalf("unknown tool: %v, want an isError result", r)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(content[0].(map[string]any)["text"].(string)), &body); err != nil ||
		body["status"] != "error" || body["code"] != "INVALID_INPUT" || !strings.Contains(body["message"].(string), "unknown tool") {
		t.Errorf("unknown tool: text %v (%v)", body, err)
	}
}
