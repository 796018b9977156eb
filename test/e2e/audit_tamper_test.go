//go:build linux

package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// auditSession runs a short session against cfg: n launches, one denial.
func auditSession(t *testing.T, e *testEnv, cfg map[string]any, n int) {
	t.Helper()
	s := startServer(t, e, cfg)
	var r runResult
	for i := 0; i < n; i++ {
		s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"audited"}}, &r)
	}
	s.failCode("process_start", map[string]any{"executable": "bash"}, "SHELL_BLOCKED")
	if err := s.close(); err != nil {
		t.Logf("server exit: %v", err)
	}
}

// TestAuditVerifyDetectsCutTail (SPEC 7.2): records cut from the end of the
// log at a line boundary leave a valid chain, but the head file beside the
// log records a later seq: `audit verify` exits 1 saying TRUNCATED, and the
// server refuses to start on that log.
func TestAuditVerifyDetectsCutTail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/echo")
	auditSession(t, e, cfg, 3)
	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit); code != 0 || !strings.Contains(out, "head: seq") {
		t.Fatalf("intact log: exit %d\n%s%s", code, out, errOut)
	}
	data, _ := os.ReadFile(e.audit)
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines = lines[:len(lines)-1] // the empty piece after the last newline
	cut := bytes.Join(lines[:len(lines)-3], nil)
	if err := os.WriteFile(e.audit, cut, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit)
	if code != 1 || !strings.Contains(errOut, "TRUNCATED") || !strings.Contains(errOut, "3 acknowledged record(s) were cut from the end") {
		t.Fatalf("cut log: exit %d, want 1 and TRUNCATED naming 3 records\n%s%s", code, out, errOut)
	}
	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", "--no-head", e.audit); code != 0 {
		t.Fatalf("--no-head checks the chain alone, which is intact: exit %d\n%s%s", code, out, errOut)
	}
	path := e.writeConfig(t, "cut.json", cfg)
	if _, errOut, code := runCLI(t, e, "", nil, "--config", path); code != 2 || !strings.Contains(errOut, "were cut from its end") {
		t.Fatalf("serve on a cut log: exit %d, want 2 naming the cut\n%s", code, errOut)
	}
}

// TestAuditVerifyDetectsRewrittenChain: the whole log replaced by another,
// valid chain (as someone who can write the file but has no key would
// produce). The head alone catches it when the seqs meet; with
// auditSigningKeyFile, `audit verify --key` catches it whatever the head.
func TestAuditVerifyDetectsRewrittenChain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := filepath.Join(e.dir, "audit.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte("s3cr"), 8), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("/bin/echo")
	cfg["auditSigningKeyFile"] = key
	auditSession(t, e, cfg, 2)
	out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", "--key", key, e.audit)
	if code != 0 || !strings.Contains(out, "signed checkpoints:") || !strings.Contains(out, "valid (hmac-sha256)") {
		t.Fatalf("intact signed log: exit %d\n%s%s", code, out, errOut)
	}

	realHead, err := os.ReadFile(e.audit + ".head")
	if err != nil {
		t.Fatal(err)
	}

	// A forged log: a longer session against a fresh log, no key.
	forger := newEnv(t)
	auditSession(t, forger, forger.config("/bin/echo"), 4)
	if out, errOut, code := runCLI(t, forger, "", nil, "audit", "verify", forger.audit); code != 0 {
		t.Fatalf("the forged log must be a valid chain of its own: exit %d\n%s%s", code, out, errOut)
	}
	copyFile(t, forger.audit, e.audit)
	// The real head left in place: its record is not the forged one.
	out, errOut, code = runCLI(t, e, "", nil, "audit", "verify", e.audit)
	if code != 1 || !strings.Contains(errOut, "REWRITTEN") {
		t.Fatalf("forged log, real head, no key: exit %d, want 1 and REWRITTEN\n%s%s", code, out, errOut)
	}
	// The forger brings a matching head too: without the key that is
	// undetectable (documented); with it, it is not.
	copyFile(t, forger.audit+".head", e.audit+".head")
	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit); code != 0 {
		t.Fatalf("forged log and head without the key: exit %d, want 0 (the documented limit)\n%s%s", code, out, errOut)
	}
	out, errOut, code = runCLI(t, e, "", nil, "audit", "verify", "--key", key, e.audit)
	if code != 1 || !strings.Contains(errOut, "not signed") {
		t.Fatalf("forged log and head, with the key: exit %d, want 1 (head not signed)\n%s%s", code, out, errOut)
	}
	// The real, signed head and the forged log, with the key.
	if err := os.WriteFile(e.audit+".head", realHead, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runCLI(t, e, "", nil, "audit", "verify", "--key", key, e.audit)
	if code != 1 || !strings.Contains(errOut, "REWRITTEN") {
		t.Fatalf("forged log, real head, with the key: exit %d, want 1 and REWRITTEN\n%s%s", code, out, errOut)
	}
}

// A signing key other users could read refuses start, naming the key and
// the fix (SPEC 7.2: "a key readable only by the server").
func TestAuditSigningKeyReadableByOthersRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := filepath.Join(e.dir, "audit.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte("s3cr"), 8), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := e.config("/bin/echo")
	cfg["auditSigningKeyFile"] = key
	path := e.writeConfig(t, "key.json", cfg)
	_, errOut, code := runCLI(t, e, "", nil, "--config", path)
	if code != 2 || !strings.Contains(errOut, "auditSigningKeyFile") || !strings.Contains(errOut, "chmod 600") {
		t.Fatalf("serve with a 0644 key: exit %d, want 2 naming auditSigningKeyFile and the fix\n%s", code, errOut)
	}
}
