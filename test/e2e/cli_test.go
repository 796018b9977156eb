//go:build linux

package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCLIValidate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := e.writeConfig(t, "good.json", e.config("/bin/echo"))
	dup := e.writeConfig(t, "dup.json", `{"allowedExecutables":["/bin/ls"],"ALLOWEDEXECUTABLES":["/bin/rm"]}`)
	network := e.config("/bin/echo")
	network["blockNetworkAccess"] = true
	networkPath := e.writeConfig(t, "network.json", network)
	unknown := e.config("/bin/echo")
	unknown["allowedExecutable"] = []string{"/bin/cat"}
	unknownPath := e.writeConfig(t, "unknown.json", unknown)
	shell := e.config("/bin/echo", "bash")
	shellPath := e.writeConfig(t, "shell.json", shell)
	broken := e.writeConfig(t, "broken.json", `{"allowedExecutables": [`)

	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantErr  []string // substrings of stderr
	}{
		{"good config", nil, []string{"validate", "--config", good}, 0, nil},
		{"case-insensitive duplicate key", nil, []string{"validate", "--config", dup}, 2, []string{"ALLOWEDEXECUTABLES"}},
		{"blockNetworkAccess accepted", nil, []string{"validate", "--config", networkPath}, 0, nil},
		{"unknown key", nil, []string{"validate", "--config", unknownPath}, 2, []string{"allowedExecutable"}},
		{"shell in allowedExecutables", nil, []string{"validate", "--config", shellPath}, 2, []string{"bash", "blockShellInterpreters"}},
		{"broken MCP_PROCESS_CONFIG_PATH", []string{"MCP_PROCESS_CONFIG_PATH=" + broken}, []string{"validate"}, 2, []string{"MCP_PROCESS_CONFIG_PATH"}},
		{"missing --config file", nil, []string{"validate", "--config", e.dir + "/nope.json"}, 2, []string{"nope.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, e, "", tc.env, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not name %q: %s", w, errOut)
				}
			}
			if tc.wantCode == 0 {
				var v struct {
					Valid  bool `json:"valid"`
					Policy struct {
						AllowedExecutables []string `json:"allowedExecutables"`
					} `json:"policy"`
				}
				if err := json.Unmarshal([]byte(out), &v); err != nil || !v.Valid || len(v.Policy.AllowedExecutables) != 1 {
					t.Errorf("validate output is not the effective policy (%v): %s", err, out)
				}
			}
		})
	}
}

func TestCLICheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := e.writeConfig(t, "good.json", e.config("/bin/echo"))
	broken := e.writeConfig(t, "broken.json", `{`)
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{"allowed", []string{"check", "--config", good, "--", "/bin/echo", "hi"}, 0, "allowed"},
		{"shell denied", []string{"check", "--config", good, "--", "bash", "-c", "id"}, 1, "SHELL_BLOCKED"},
		{"not allowed", []string{"check", "--config", good, "--", "/bin/cat"}, 1, "EXECUTABLE_NOT_ALLOWED"},
		{"broken config", []string{"check", "--config", broken, "--", "/bin/echo"}, 2, ""},
		{"no executable", []string{"check", "--config", good}, 2, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, e, "", nil, tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.wantCode, out, errOut)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("stdout %q does not contain %q", out, tc.wantOut)
			}
		})
	}
}

func TestCLIRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.writeConfig(t, "run.json", e.config("/bin/echo", "/bin/cat", "/usr/bin/printf", exitWithBin))
	for _, tc := range []struct {
		name       string
		stdin      string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"echo", "", []string{"/bin/echo", "hi"}, 0, "hi\n", ""},
		{"child exit code", "", []string{exitWithBin, "3", "three"}, 3, "three\n", ""},
		{"stdin forwarded", "abc\n", []string{"/bin/cat"}, 0, "abc\n", ""},
		{"output bytes as written", "", []string{"/usr/bin/printf", `a\377\000\303`}, 0, "a\xff\x00\xc3", ""},
		{"shell denied", "", []string{"bash", "-c", "id"}, 126, "", "SHELL_BLOCKED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"run", "--config", cfg, "--"}, tc.args...)
			out, errOut, code := runCLI(t, e, tc.stdin, nil, args...)
			if code != tc.wantCode || out != tc.wantStdout || !strings.Contains(errOut, tc.wantStderr) {
				t.Errorf("run %v: exit %d stdout %q stderr %q; want exit %d stdout %q stderr containing %q",
					tc.args, code, out, tail(errOut, 1500), tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
}

func TestCLISchema(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	out, errOut, code := runCLI(t, e, "", nil, "schema")
	if code != 0 {
		t.Fatalf("schema: exit %d: %s", code, errOut)
	}
	var s struct {
		Schema     string         `json:"$schema"`
		Properties map[string]any `json:"properties"`
		AddlProps  any            `json:"additionalProperties"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("schema output is not JSON: %v", err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %q, want draft 2020-12", s.Schema)
	}
	for _, k := range []string{"allowedExecutables", "maxConcurrentProcesses", "auditLogPath", "defaultResourceLimits"} {
		if _, ok := s.Properties[k]; !ok {
			t.Errorf("schema has no property %q", k)
		}
	}
	if s.AddlProps != false {
		t.Errorf("schema additionalProperties = %v, want false (unknown keys are errors)", s.AddlProps)
	}
}

// TestCLIProfileMaximum: the maximum preset starts on a stock host (every
// layer it asks for is built: no network, a composed jail, confirmation):
// serve exits 0 when its client goes away, validate says valid.
func TestCLIProfileMaximum(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, args := range [][]string{{"--profile", "maximum"}, {"serve", "--profile", "maximum"}, {"validate", "--profile", "maximum"}} {
		out, errOut, code := runCLI(t, e, "", nil, args...)
		if code != 0 || strings.Contains(errOut, "LAYER_UNAVAILABLE") {
			t.Errorf("mcp-process %v: exit %d, stderr %q; want exit 0: every layer of maximum is built", args, code, errOut)
		}
		if args[0] == "validate" {
			if !strings.Contains(out, `"valid": true`) {
				t.Errorf("mcp-process %v: stdout %q, want a valid report", args, out)
			}
		} else if out != "" {
			t.Errorf("mcp-process %v wrote to stdout with no client: %q", args, out)
		}
	}
}

// run forwards its stdin under the same rule as process_send_stdin: with
// blockBinaryStdin, binary data never reaches the child, the child's stdin
// is closed, and the refusal is a recorded security violation; text is
// forwarded whole, also where a read cuts a character.
func TestCLIRunBinaryStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.config("/bin/cat")
	c["blockBinaryStdin"] = true
	cfg := e.writeConfig(t, "binstdin.json", c)
	text := strings.Repeat("é", 40000) + "\n" // > 32 KiB: reads cut characters
	out, errOut, code := runCLI(t, e, text, nil, "run", "--config", cfg, "--", "/bin/cat")
	if code != 0 || out != text {
		t.Fatalf("text: exit %d, %d bytes out (want %d); stderr %q", code, len(out), len(text), tail(errOut, 500))
	}
	out, errOut, code = runCLI(t, e, "secret\x00binary\n", nil, "run", "--config", cfg, "--", "/bin/cat")
	if code != 0 || out != "" || !strings.Contains(errOut, "BINARY_STDIN_BLOCKED") {
		t.Fatalf("binary: exit %d stdout %q stderr %q; want exit 0, nothing forwarded, BINARY_STDIN_BLOCKED", code, out, tail(errOut, 500))
	}
	found := false
	for _, r := range e.auditRecords(t) {
		if r["event"] == "security_violation" && r["code"] == "BINARY_STDIN_BLOCKED" && r["tool"] == "run" {
			found = true
		}
	}
	if !found {
		t.Fatal("no security_violation record for the refused stdin")
	}
}
