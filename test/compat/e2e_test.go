//go:build linux

package compat

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// deliberateDifferences are the original's tests this server fails on
// purpose, each with the reason (docs/migrating.md lists them too).
var deliberateDifferences = map[string]string{}

// run runs one counterpart, or skips it with the reason it differs.
func run(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if why, ok := deliberateDifferences[name]; ok {
			t.Skip("deliberate difference: " + why)
		}
		f(t)
	})
}

// gen is the property tests' generator (the original used fast-check);
// seeded, so a failure repeats.
var gen = rand.New(rand.NewPCG(1, 5))

// printable is a string of n printable ASCII characters (fast-check's
// fc.string() alphabet).
func printable(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(0x20 + gen.IntN(0x7f-0x20))
	}
	return string(b)
}

// fromAlphabet is a string of n characters of alphabet.
func fromAlphabet(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[gen.IntN(len(alphabet))]
	}
	return string(b)
}

func pick[T any](xs ...T) T { return xs[gen.IntN(len(xs))] }

func num(t *testing.T, r map[string]any, key string) float64 {
	t.Helper()
	v, ok := r[key].(float64)
	if !ok {
		t.Fatalf("%s is %T (%v), want a number: %v", key, r[key], r[key], r)
	}
	return v
}

// checkStarted is the original's check of a process_start response.
func checkStarted(t *testing.T, r map[string]any) {
	t.Helper()
	if r["status"] != "success" {
		t.Fatalf("status %v: %v", r["status"], r)
	}
	if num(t, r, "pid") <= 0 {
		t.Fatalf("pid %v", r["pid"])
	}
	st, ok := r["startTime"].(string)
	if !ok {
		t.Fatalf("startTime %v, want a string", r["startTime"])
	}
	if ts, err := time.Parse(time.RFC3339Nano, st); err != nil || ts.UnixMilli() <= 0 {
		t.Fatalf("startTime %q: %v", st, err)
	}
}

// checkTools is the original's check of every tool in tools/list.
func checkTools(t *testing.T, r map[string]any, want ...string) {
	t.Helper()
	names := toolNames(t, r)
	for _, n := range want {
		if !slices.Contains(names, n) {
			t.Errorf("tools/list lacks %s", n)
		}
	}
	for _, x := range r["tools"].([]any) {
		tool := x.(map[string]any)
		name, _ := tool["name"].(string)
		if d, _ := tool["description"].(string); name == "" || d == "" {
			t.Errorf("tool %q: description %v", name, tool["description"])
		}
		schema, _ := tool["inputSchema"].(map[string]any)
		if schema == nil || schema["type"] != "object" {
			t.Errorf("tool %s: inputSchema %v", name, tool["inputSchema"])
			continue
		}
		props, ok := schema["properties"].(map[string]any)
		if !ok {
			t.Errorf("tool %s: no properties object", name)
			continue
		}
		if req, ok := schema["required"]; ok {
			if _, isList := req.([]any); !isList {
				t.Errorf("tool %s: required %v is not an array", name, req)
			}
		}
		for p, v := range props {
			prop, _ := v.(map[string]any)
			if prop == nil || (prop["type"] == nil && prop["anyOf"] == nil && prop["oneOf"] == nil && prop["allOf"] == nil) {
				t.Errorf("tool %s property %s: no type, anyOf, oneOf or allOf: %v", name, p, v)
			}
		}
	}
}

// Counterparts of server.e2e.spec.ts (44 tests), in its order, against one
// server as the original's suite runs them (its pool of three servers used
// one for every test).
func TestOriginalE2E(t *testing.T) {
	s := startServer(t)
	initParams := func(name, version string) map[string]any {
		return map[string]any{"protocolVersion": "2024-11-05", "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": name, "version": version}}
	}
	longRunning := []string{"-e", "setInterval(() => {}, 1000)"}
	sleeping := []string{"-e", "setTimeout(() => {}, 30000)"}

	// MCP Protocol Initialization
	run(t, "Initialization: should respond to initialize request with protocol version 2024-11-05", func(t *testing.T) {
		r := s.mustRequest(t, "initialize", initParams("test-client", "1.0.0"))
		checkInitialize(t, r)
		if info := r["serverInfo"].(map[string]any); info["version"] == nil {
			t.Errorf("serverInfo.version missing")
		}
	})
	run(t, "Initialization: should handle server initialization round trip for any valid client info", func(t *testing.T) {
		for range 10 {
			r := s.mustRequest(t, "initialize", initParams(printable(1+gen.IntN(50)), printable(1+gen.IntN(20))))
			checkInitialize(t, r)
		}
	})

	// Tool Discovery
	run(t, "Tool Discovery: should list all available tools with complete schemas", func(t *testing.T) {
		checkTools(t, s.mustRequest(t, "tools/list", nil), "process_start", "process_terminate", "process_get_status", "process_list")
	})
	run(t, "Tool Discovery: should provide detailed schema for process_start tool", func(t *testing.T) {
		r := s.mustRequest(t, "tools/list", nil)
		for _, x := range r["tools"].([]any) {
			tool := x.(map[string]any)
			if tool["name"] != "process_start" {
				continue
			}
			schema := tool["inputSchema"].(map[string]any)
			props := schema["properties"].(map[string]any)
			if props["executable"] == nil || props["args"] == nil {
				t.Errorf("process_start properties %v", props)
			}
			req, _ := schema["required"].([]any)
			if !slices.Contains(req, any("executable")) {
				t.Errorf("process_start required %v", schema["required"])
			}
			return
		}
		t.Fatal("no process_start")
	})
	run(t, "Tool Discovery: should return complete tool list with valid schemas for any request", func(t *testing.T) {
		for range 10 {
			for range 1 + gen.IntN(10) {
				checkTools(t, s.mustRequest(t, "tools/list", nil), "process_start", "process_terminate", "process_get_status", "process_list")
			}
		}
	})

	// Process Launch Operations
	run(t, "Launch: should launch process with allowed executable and verify cleanup", func(t *testing.T) {
		r := s.start(t, map[string]any{"executable": "node", "args": []string{"--version"}})
		checkStarted(t, r)
		if st := s.status(t, int64(r["pid"].(float64))); st["status"] == nil {
			t.Errorf("process_get_status: no status: %v", st)
		}
	})
	run(t, "Launch: should launch process with environment variables", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": []string{"-e", "console.log(process.env.TEST_VAR)"},
			"env": map[string]any{"TEST_VAR": "test_value_123"}})
		out := s.awaitOutput(t, pid, 10*time.Second)
		if o, _ := out["stdout"].(string); o != "" && !strings.Contains(o, "test_value_123") {
			t.Errorf("stdout %q lacks the variable's value", o)
		}
	})
	run(t, "Launch: should reject blocked executable with security error", func(t *testing.T) {
		r := s.start(t, map[string]any{"executable": "sudo", "args": []string{"ls"}})
		wantError(t, r, "security", "blocked", "forbidden", "not allowed")
	})
	run(t, "Launch: should successfully launch any allowed executable with valid PID", func(t *testing.T) {
		for range 8 {
			exe, args := pick("node", "npm"), pick([]string{"--version"}, []string{"-v"})
			checkStarted(t, s.start(t, map[string]any{"executable": exe, "args": args}))
		}
	})
	run(t, "Launch: should reject any blocked executable with security error", func(t *testing.T) {
		for range 5 {
			exe := pick("sudo", "rm", "curl", "wget")
			r := s.start(t, map[string]any{"executable": exe, "args": []string{}})
			wantError(t, r, "security", "blocked", "not allowed", "forbidden")
		}
	})

	// Error Handling
	run(t, "Error Handling: should handle unknown tool with clear error message", func(t *testing.T) {
		res := s.call(t, "process_unknown_tool", map[string]any{})
		if !res.IsError {
			t.Errorf("isError false")
		}
		r := res.Response
		if c, _ := r["code"].(string); c == "" {
			t.Errorf("code %v", r["code"])
		}
		msg, _ := r["message"].(string)
		wantError(t, r, "unknown", "not found", "invalid")
		if msg == "" {
			t.Errorf("empty message")
		}
	})
	run(t, "Error Handling: should handle missing required parameters with validation error", func(t *testing.T) {
		r := s.call(t, "process_start", map[string]any{"args": []string{"--version"}}).Response
		wantError(t, r, "missing", "required", "executable", "undefined", "cannot read")
	})
	run(t, "Error Handling: should handle invalid parameter types with type error", func(t *testing.T) {
		r := s.call(t, "process_start", map[string]any{"executable": "node", "args": "not-an-array", "captureOutput": "not-a-boolean"}).Response
		wantError(t, r, "type", "invalid", "array", "boolean")
	})
	run(t, "Error Handling: should return structured error for any invalid request", func(t *testing.T) {
		for range 10 {
			var name string
			var args map[string]any
			kind := pick("unknown_tool", "missing_param", "invalid_type")
			switch kind {
			case "unknown_tool":
				name, args = "invalid_"+printable(5+gen.IntN(26)), map[string]any{}
			case "missing_param":
				list := []string{}
				for range gen.IntN(4) {
					list = append(list, printable(gen.IntN(10)))
				}
				name, args = "process_start", map[string]any{"args": list}
			default:
				name, args = "process_start", map[string]any{"executable": "node", "args": printable(1 + gen.IntN(10))}
			}
			res := s.call(t, name, args)
			if kind == "unknown_tool" && !res.IsError {
				t.Errorf("%s: isError false", name)
			}
			r := res.Response
			if kind == "invalid_type" && r["status"] == "success" {
				continue
			}
			if r["status"] != "error" {
				t.Fatalf("%s %v: status %v", name, args, r)
			}
			code, _ := r["code"].(string)
			msg, _ := r["message"].(string)
			if code == "" && msg == "" {
				t.Fatalf("no code or message: %v", r)
			}
		}
	})

	// Process Monitoring Operations
	checkStats := func(t *testing.T, pid int64) {
		t.Helper()
		r := s.call(t, "process_get_stats", map[string]any{"pid": pid}).Response
		if r["status"] != "success" {
			t.Fatalf("process_get_stats: %v", r)
		}
		stats, _ := r["stats"].(map[string]any)
		if stats == nil {
			t.Fatalf("no stats{}: %v", r)
		}
		if num(t, stats, "cpuPercent") < 0 || num(t, stats, "memoryMB") <= 0 || num(t, r, "uptime") <= 0 {
			t.Errorf("stats %v uptime %v", stats, r["uptime"])
		}
	}
	run(t, "Monitoring: should retrieve process statistics with CPU and memory usage", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": longRunning})
		time.Sleep(time.Second) // as the original: figures after a second
		checkStats(t, pid)
		s.terminate(t, pid, true)
	})
	run(t, "Monitoring: should query process status with running state and uptime", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": longRunning})
		time.Sleep(500 * time.Millisecond)
		r := s.status(t, pid)
		if r["status"] != "success" || r["state"] != "running" || num(t, r, "uptime") <= 0 {
			t.Errorf("process_get_status: %v", r)
		}
		s.terminate(t, pid, true)
	})
	run(t, "Monitoring: should list all launched processes", func(t *testing.T) {
		var pids []int64
		for range 3 {
			pids = append(pids, s.mustStart(t, map[string]any{"executable": "node", "args": longRunning}))
		}
		r := s.call(t, "process_list", map[string]any{}).Response
		procs, _ := r["processes"].([]any)
		if r["status"] != "success" || len(procs) < 3 {
			t.Fatalf("process_list: %v", r)
		}
		var listed []int64
		for _, p := range procs {
			listed = append(listed, int64(p.(map[string]any)["pid"].(float64)))
		}
		for _, pid := range pids {
			if !slices.Contains(listed, pid) {
				t.Errorf("pid %d not listed in %v", pid, listed)
			}
			s.terminate(t, pid, true)
		}
	})
	run(t, "Monitoring: should return error for non-existent process query", func(t *testing.T) {
		r := s.call(t, "process_get_stats", map[string]any{"pid": 999999}).Response
		if r["status"] != "error" || r["code"] != "PROCESS_NOT_FOUND" {
			t.Errorf("process_get_stats 999999: %v", r)
		}
	})
	run(t, "Monitoring: should retrieve valid statistics for any running process", func(t *testing.T) {
		for range 5 {
			args := pick(longRunning, []string{"-e", "setTimeout(() => {}, 5000)"})
			pid := s.mustStart(t, map[string]any{"executable": "node", "args": args})
			time.Sleep(500 * time.Millisecond)
			checkStats(t, pid)
			s.terminate(t, pid, true)
		}
	})

	// Process Termination Operations
	run(t, "Termination: should gracefully terminate process with SIGTERM", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": sleeping})
		r := s.terminate(t, pid, false)
		if r["status"] != "success" {
			t.Fatalf("process_terminate: %v", r)
		}
		if c, ok := r["exitCode"]; ok && c != nil {
			if _, isNum := c.(float64); !isNum {
				t.Errorf("exitCode %v is not a number", c)
			}
		}
		s.awaitTerminated(t, pid, 10*time.Second)
	})
	run(t, "Termination: should forcefully terminate process with SIGKILL", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": sleeping})
		r := s.terminate(t, pid, true)
		if r["status"] != "success" {
			t.Fatalf("process_terminate: %v", r)
		}
		if reason, _ := r["reason"].(string); reason != "" && reason != "forced" && reason != "killed" && !strings.Contains(strings.ToLower(reason), "force") {
			t.Errorf("reason %q", reason)
		}
		s.awaitTerminated(t, pid, 10*time.Second)
	})
	run(t, "Termination: should escalate to SIGKILL when graceful termination times out", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": sleeping})
		r := s.call(t, "process_terminate", map[string]any{"pid": pid, "force": false, "timeout": 2000}).Response
		if r["status"] != "success" {
			t.Fatalf("process_terminate: %v", r)
		}
		s.awaitTerminated(t, pid, 10*time.Second)
	})
	run(t, "Termination: should ensure terminated processes are no longer running", func(t *testing.T) {
		for range 5 {
			pid := s.mustStart(t, map[string]any{"executable": "node", "args": sleeping})
			if r := s.terminate(t, pid, gen.IntN(2) == 1); r["status"] != "success" {
				t.Fatalf("process_terminate: %v", r)
			}
			s.awaitTerminated(t, pid, 10*time.Second)
		}
	})

	// Output Capture Operations
	wantOutput := func(t *testing.T, args []string, stream string, want ...string) {
		t.Helper()
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": args})
		r := s.awaitOutput(t, pid, 10*time.Second)
		got, ok := r[stream].(string)
		if r["status"] != "success" || !ok {
			t.Fatalf("process_get_output: %v", r)
		}
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %q lacks %q", stream, got, w)
			}
		}
	}
	run(t, "Output: should capture stdout from process", func(t *testing.T) {
		wantOutput(t, []string{"-e", `console.log("Hello from stdout test!")`}, "stdout", "Hello from stdout test!")
	})
	run(t, "Output: should capture stderr from process", func(t *testing.T) {
		wantOutput(t, []string{"-e", `console.error("Error message from stderr test!")`}, "stderr", "Error message from stderr test!")
	})
	run(t, "Output: should retrieve all output after process completion", func(t *testing.T) {
		wantOutput(t, []string{"-p", `'Output line 1\nOutput line 2\nOutput line 3'`}, "stdout", "Output line 1", "Output line 2", "Output line 3")
	})
	run(t, "Output: should capture complete output for any process that writes to stdout", func(t *testing.T) {
		safe := "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-"
		for range 10 {
			out, errMsg := fromAlphabet(safe, 1+gen.IntN(20)), fromAlphabet(safe, 1+gen.IntN(20))
			if strings.TrimSpace(out) == "" || strings.TrimSpace(errMsg) == "" {
				continue
			}
			script := fmt.Sprintf("\n              console.log('%s');\n              console.error('%s');\n            ", out, errMsg)
			r := s.start(t, map[string]any{"executable": "node", "args": []string{"-e", script}})
			if r["status"] == "error" {
				continue // as the original: a refused launch ends the run
			}
			pid := int64(num(t, r, "pid"))
			o := s.awaitOutput(t, pid, 10*time.Second)
			if so, _ := o["stdout"].(string); !strings.Contains(so, out) {
				t.Errorf("stdout %q lacks %q", so, out)
			}
			if se, _ := o["stderr"].(string); !strings.Contains(se, errMsg) {
				t.Errorf("stderr %q lacks %q", se, errMsg)
			}
		}
	})

	// Service Management Operations
	startService := func(t *testing.T, args map[string]any) map[string]any {
		t.Helper()
		r := s.call(t, "process_start_service", args).Response
		if r["status"] != "success" {
			t.Fatalf("process_start_service: %v", r)
		}
		if id, _ := r["serviceId"].(string); id == "" || num(t, r, "pid") <= 0 {
			t.Fatalf("serviceId %v pid %v", r["serviceId"], r["pid"])
		}
		return r
	}
	stopService := func(t *testing.T, id string) map[string]any {
		t.Helper()
		r := s.call(t, "process_stop_service", map[string]any{"serviceId": id}).Response
		if r["status"] != "success" {
			t.Fatalf("process_stop_service: %v", r)
		}
		return r
	}
	run(t, "Services: should start a service and verify it is running", func(t *testing.T) {
		r := startService(t, map[string]any{"name": "test-service-1", "executable": "node",
			"args":          []string{"-e", "setInterval(() => console.log('running'), 1000)"},
			"restartPolicy": map[string]any{"enabled": true, "maxRetries": 3, "backoffMs": 1000}})
		if r["serviceId"] != "test-service-1" {
			t.Errorf("serviceId %v", r["serviceId"])
		}
		stopService(t, "test-service-1")
	})
	run(t, "Services: should stop a service gracefully", func(t *testing.T) {
		r := startService(t, map[string]any{"name": "test-service-2", "executable": "node",
			"args":          []string{"-e", "setInterval(() => console.log('running'), 1000)"},
			"restartPolicy": map[string]any{"enabled": false, "maxRetries": 0, "backoffMs": 1000}})
		pid := int64(r["pid"].(float64))
		if stop := stopService(t, "test-service-2"); stop["serviceId"] != "test-service-2" {
			t.Errorf("serviceId %v", stop["serviceId"])
		}
		s.awaitTerminated(t, pid, 10*time.Second, "stopped")
	})
	run(t, "Services: should auto-restart service when it crashes", func(t *testing.T) {
		startService(t, map[string]any{"name": "test-service-3", "executable": "node",
			"args":          []string{"-e", "setTimeout(() => process.exit(1), 1000)"},
			"restartPolicy": map[string]any{"enabled": true, "maxRetries": 3, "backoffMs": 500}})
		time.Sleep(3 * time.Second) // as the original: let it crash and restart
		stopService(t, "test-service-3")
	})
	run(t, "Services: should manage service lifecycle correctly for any service configuration", func(t *testing.T) {
		nonName := regexp.MustCompile(`[^a-zA-Z0-9-]`)
		for range 5 {
			name := nonName.ReplaceAllString(printable(1+gen.IntN(20)), "")
			if name == "" {
				continue
			}
			id := "test-service-" + name
			r := startService(t, map[string]any{"name": id, "executable": "node", "args": longRunning,
				"restartPolicy": map[string]any{"enabled": gen.IntN(2) == 1, "maxRetries": 1 + gen.IntN(5), "backoffMs": 500}})
			pid := int64(r["pid"].(float64))
			stopService(t, id)
			s.awaitTerminated(t, pid, 10*time.Second, "stopped")
		}
	})

	// Security Policy Enforcement
	run(t, "Security: should reject executable not in allowlist with security error", func(t *testing.T) {
		r := s.start(t, map[string]any{"executable": "python3", "args": []string{"--version"}})
		wantError(t, r, "security", "blocked", "not allowed", "forbidden", "allowlist")
	})
	run(t, "Security: should reject dangerous executables like sudo or rm", func(t *testing.T) {
		wantError(t, s.start(t, map[string]any{"executable": "sudo", "args": []string{"ls"}}), "security", "blocked", "not allowed", "forbidden", "dangerous")
		wantError(t, s.start(t, map[string]any{"executable": "rm", "args": []string{"-rf", "/tmp/test"}}), "security", "blocked", "not allowed", "forbidden", "dangerous")
	})
	// refusedOrRuns is the original's check where either is fine: a
	// refusal names one of words; a launch has a pid (and is terminated).
	refusedOrRuns := func(t *testing.T, r map[string]any, words ...string) {
		t.Helper()
		if r["status"] == "error" {
			wantError(t, r, words...)
			return
		}
		pid := int64(num(t, r, "pid"))
		if r["status"] != "success" || pid <= 0 {
			t.Fatalf("neither refused nor started: %v", r)
		}
		s.terminate(t, pid, true)
	}
	run(t, "Security: should reject or sanitize dangerous environment variables", func(t *testing.T) {
		r := s.start(t, map[string]any{"executable": "node", "args": []string{"--version"}, "env": map[string]any{
			"LD_PRELOAD": "/malicious/library.so", "LD_LIBRARY_PATH": "/malicious/path", "DYLD_INSERT_LIBRARIES": "/malicious/lib.dylib"}})
		refusedOrRuns(t, r, "security", "environment", "variable", "not allowed", "forbidden")
	})
	run(t, "Security: should prevent command injection in arguments", func(t *testing.T) {
		for _, p := range []string{"; rm -rf /tmp/test", "| cat /etc/passwd", "&& echo 'injected'", "$(whoami)", "`whoami`"} {
			r := s.start(t, map[string]any{"executable": "node", "args": []string{"--version", p}})
			refusedOrRuns(t, r, "security", "injection", "invalid", "not allowed", "forbidden")
		}
	})
	run(t, "Security: should enforce security policy for any security violation attempt", func(t *testing.T) {
		for range 10 {
			var args map[string]any
			kind := pick("blocked_executable", "non_allowlisted", "dangerous_env", "command_injection")
			randomArgs := func() []string {
				l := []string{}
				for range gen.IntN(3) {
					l = append(l, printable(gen.IntN(11)))
				}
				return l
			}
			switch kind {
			case "blocked_executable":
				args = map[string]any{"executable": pick("sudo", "rm", "curl", "wget", "chmod"), "args": randomArgs()}
			case "non_allowlisted":
				args = map[string]any{"executable": pick("python3", "ruby", "perl", "bash", "sh"), "args": randomArgs()}
			case "dangerous_env":
				args = map[string]any{"executable": "node", "args": []string{"--version"}, "env": map[string]any{"LD_PRELOAD": "/malicious/lib.so"}}
			default:
				inj := []string{}
				for range 1 + gen.IntN(2) {
					inj = append(inj, pick("; echo injected", "| cat /etc/passwd", "&& whoami", "$(echo test)", "`echo test`"))
				}
				args = map[string]any{"executable": "node", "args": inj}
			}
			r := s.start(t, args)
			if kind == "blocked_executable" || kind == "non_allowlisted" {
				wantError(t, r, "security", "blocked", "not allowed", "forbidden", "allowlist")
			} else {
				refusedOrRuns(t, r, "security", "environment", "injection", "invalid", "not allowed", "forbidden")
			}
		}
	})

	// Resource Limit Enforcement: the original's scripts ("let x = 0
	// while(...)", "global.arrays = [] global.arrays.push(...)") are not
	// valid JavaScript, so node exits at once; the tests check that the
	// process no longer runs, with the limits accepted.
	cpuScript := "setInterval(() => { let x = 0 while(x++ < 10000000) Math.sqrt(Math.random()) }, 1)"
	memScript := "setInterval(() => { if(!global.arrays) global.arrays = [] global.arrays.push(new Array(1000000).fill('x')) }, 10)"
	limitCheck := func(t *testing.T, script string, limits map[string]any, words ...string) {
		t.Helper()
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": []string{"-e", script}, "resourceLimits": limits})
		r := s.awaitTerminated(t, pid, 15*time.Second)
		if r["status"] == "error" && !containsAny(errorInfo(r), words...) {
			t.Errorf("error %q names none of %q", errorInfo(r), words)
		}
	}
	run(t, "Resource Limits: should terminate process when CPU limit is exceeded", func(t *testing.T) {
		limitCheck(t, cpuScript, map[string]any{"maxCpuPercent": 5}, "resource", "limit", "cpu", "exceeded")
	})
	run(t, "Resource Limits: should terminate process when memory limit is exceeded", func(t *testing.T) {
		limitCheck(t, memScript, map[string]any{"maxMemoryMB": 50}, "resource", "limit", "memory", "exceeded")
	})
	run(t, "Resource Limits: should enforce resource limits for any process with configured limits", func(t *testing.T) {
		for range 4 {
			if pick("cpu", "memory") == "cpu" {
				limitCheck(t, cpuScript, map[string]any{"maxCpuPercent": 5})
			} else {
				limitCheck(t, memScript, map[string]any{"maxMemoryMB": 50})
			}
		}
	})

	// Timeout Handling
	timedOut := func(t *testing.T, pid int64, timeoutMs int) {
		t.Helper()
		r := s.awaitTerminated(t, pid, time.Duration(timeoutMs)*time.Millisecond+10*time.Second, "crashed")
		switch {
		case r["status"] == "error":
			if !containsAny(errorInfo(r), "timeout", "exceeded", "time", "limit", "crashed", "not found") {
				t.Errorf("error %q", errorInfo(r))
			}
		case r["terminationReason"] != nil:
			reason := strings.ToLower(fmt.Sprint(r["terminationReason"]))
			if !containsAny(reason, "timeout", "exceeded", "crashed") {
				t.Errorf("terminationReason %q", reason)
			}
		}
	}
	run(t, "Timeout: should terminate process when timeout is exceeded", func(t *testing.T) {
		pid := s.mustStart(t, map[string]any{"executable": "node", "args": sleeping, "timeout": 2000})
		timedOut(t, pid, 2000)
	})
	run(t, "Timeout: should complete successfully when process finishes before timeout", func(t *testing.T) {
		wantOutputTimeout := func() {
			pid := s.mustStart(t, map[string]any{"executable": "node", "args": []string{"-e", `console.log("Quick process output")`}, "timeout": 10000})
			r := s.awaitOutput(t, pid, 10*time.Second)
			if o, _ := r["stdout"].(string); r["status"] != "success" || !strings.Contains(o, "Quick process output") {
				t.Errorf("process_get_output: %v", r)
			}
		}
		wantOutputTimeout()
	})
	run(t, "Timeout: should enforce timeout for any process with configured timeout", func(t *testing.T) {
		for range 5 {
			timeoutMs := 1000 + gen.IntN(4001)
			long := pick(true, false)
			script := `console.log("done")`
			if long {
				script = "setTimeout(() => {}, 30000)"
			}
			pid := s.mustStart(t, map[string]any{"executable": "node", "args": []string{"-e", script}, "timeout": timeoutMs})
			if long {
				timedOut(t, pid, timeoutMs)
			} else if r := s.status(t, pid); r == nil {
				t.Errorf("no status")
			}
		}
	})

	// JSON-RPC Protocol Compliance (Property Tests)
	run(t, "JSON-RPC: should match response IDs to request IDs for any valid method", func(t *testing.T) {
		for range 10 {
			if pick("initialize", "tools/list") == "initialize" {
				r := s.mustRequest(t, "initialize", initParams("test-client", "1.0.0"))
				if r["protocolVersion"] == nil || r["serverInfo"] == nil {
					t.Errorf("initialize: %v", r)
				}
			} else if r := s.mustRequest(t, "tools/list", nil); r["tools"] == nil {
				t.Errorf("tools/list: %v", r)
			}
		}
	})
	run(t, "JSON-RPC: should handle concurrent requests correctly", func(t *testing.T) {
		for range 5 {
			n := 2 + gen.IntN(4)
			errs := make(chan error, n)
			for range n {
				go func() {
					_, err := s.request("tools/list", nil)
					errs <- err
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Error(err)
				}
			}
		}
	})
}
