//go:build linux

package e2e

import (
	"os"
	"strings"
	"testing"
)

// TestDenials: each policy denial reaches the agent with its stable code,
// layer, message and remedy, starts nothing, and is a security_violation
// record in the audit log by the time the call has answered.
func TestDenials(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo"))
	const envSecret = "/tmp/e2e-evil-preload-Kx7.so"
	cases := []struct {
		name string
		tool string
		args map[string]any
		code string
	}{
		{"shell", "process_start", map[string]any{"executable": "bash", "args": []string{"-c", "id"}}, "SHELL_BLOCKED"},
		{"sudo", "process_start", map[string]any{"executable": "sudo", "args": []string{"id"}}, "EXECUTABLE_BLOCKED"},
		{"not in allowlist", "process_start", map[string]any{"executable": "/bin/cat"}, "EXECUTABLE_NOT_ALLOWED"},
		{"LD_PRELOAD", "process_start", map[string]any{"executable": "/bin/echo", "env": map[string]string{"LD_PRELOAD": envSecret}}, "ENV_INVALID"},
		{"cwd outside", "process_start", map[string]any{"executable": "/bin/echo", "cwd": "/etc"}, "CWD_NOT_ALLOWED"},
		{"injection pattern", "process_start", map[string]any{"executable": "/bin/echo", "args": []string{"a;b"}}, "ARGUMENT_INVALID"},
		{"shell via process_run", "process_run", map[string]any{"executable": "sh", "args": []string{"-c", "id"}}, "SHELL_BLOCKED"},
		{"env wrapper", "process_run", map[string]any{"executable": "/usr/bin/env", "args": []string{"id"}}, "EXECUTABLE_BLOCKED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			e := s.failCode(tc.tool, tc.args, tc.code)
			if e.Remedy == "" {
				t.Errorf("%s: no remedy: %+v", tc.code, e)
			}
		})
	}
	s.t = t

	// Written and synced before the answer: no polling.
	recs := e.auditRecords(t)
	for _, tc := range cases {
		found := false
		for _, r := range recs {
			if r["code"] == tc.code && r["event"] == "security_violation" && r["tool"] == tc.tool {
				found = true
				if r["level"] != "warn" || r["decision"] != "deny" || r["layer"] == nil || r["layer"] == "" {
					t.Errorf("%s record lacks level warn / decision deny / layer: %v", tc.code, r)
				}
				break
			}
		}
		if !found {
			t.Errorf("no security_violation record with code %s from %s in the audit log", tc.code, tc.tool)
		}
	}
	b, err := os.ReadFile(e.audit)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), envSecret) {
		t.Errorf("the audit log contains an environment value (%s)", envSecret)
	}

	var list struct {
		Processes []status `json:"processes"`
	}
	s.ok("process_list", map[string]any{}, &list)
	if len(list.Processes) != 0 {
		t.Errorf("denied launches started processes: %+v", list.Processes)
	}
}
