//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditVerify: after a real session the log's chain verifies; one
// flipped byte makes `audit verify` exit 1 naming the bad record.
func TestAuditVerify(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo"))
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"audited"}}, &r)
	s.failCode("process_start", map[string]any{"executable": "bash"}, "SHELL_BLOCKED")
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"again"}}, &r)
	if err := s.close(); err != nil {
		t.Logf("server exit: %v", err)
	}

	recs := e.auditRecords(t)
	if len(recs) < 4 {
		t.Fatalf("audit log has %d records, want at least config_loaded, launch, violation, launch", len(recs))
	}
	if recs[0]["event"] != "config_loaded" {
		t.Errorf("first record event %v, want config_loaded", recs[0]["event"])
	}
	events := map[string]bool{}
	for i, rec := range recs {
		events[fmt.Sprint(rec["event"])] = true
		if seq, _ := rec["seq"].(float64); int(seq) != i+1 {
			t.Errorf("record %d has seq %v", i+1, rec["seq"])
		}
		want := strings.Repeat("0", 64)
		if i > 0 {
			want, _ = recs[i-1]["hash"].(string)
		}
		if rec["prevHash"] != want {
			t.Errorf("record %d prevHash %v, want %s", i+1, rec["prevHash"], want)
		}
		if h, _ := rec["hash"].(string); len(h) != 64 {
			t.Errorf("record %d hash %q is not 64 hex characters", i+1, h)
		}
	}
	for _, ev := range []string{"launch", "exit", "security_violation"} {
		if !events[ev] {
			t.Errorf("no %q record in the audit log (events: %v)", ev, events)
		}
	}

	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit); code != 0 {
		t.Fatalf("audit verify of an intact log: exit %d\n%s%s", code, out, errOut)
	}
	violations := filepath.Join(filepath.Dir(e.audit), "security-violations.log")
	if _, err := os.Stat(violations); err != nil {
		t.Errorf("no security violation log beside the audit log: %v", err)
	} else if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", violations); code != 0 {
		t.Errorf("audit verify of the violation log: exit %d\n%s%s", code, out, errOut)
	}

	// Flip one alphanumeric byte in the middle of the file.
	data, err := os.ReadFile(e.audit)
	if err != nil {
		t.Fatal(err)
	}
	pos := len(data) / 2
	for pos < len(data) && !isAlnum(data[pos]) {
		pos++
	}
	if pos == len(data) {
		t.Fatal("no byte to flip")
	}
	switch c := data[pos]; {
	case c == 'a':
		data[pos] = 'b'
	case c >= '0' && c <= '8', c >= 'b' && c <= 'y', c >= 'A' && c <= 'Y':
		data[pos] = c + 1
	default:
		data[pos] = c - 1
	}
	line := bytes.Count(data[:pos], []byte("\n")) + 1
	seq := fmt.Sprint(recs[line-1]["seq"])
	tampered := filepath.Join(e.dir, "tampered.log")
	if err := os.WriteFile(tampered, data, 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, e.audit+".head", tampered+".head")
	out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", tampered)
	if code != 1 {
		t.Fatalf("audit verify of a tampered log (byte %d, line %d): exit %d, want 1\n%s%s", pos, line, code, out, errOut)
	}
	if !strings.Contains(errOut, "seq "+seq) && !strings.Contains(errOut, fmt.Sprintf(":%d", line)) && !strings.Contains(errOut, fmt.Sprintf("line %d", line)) {
		t.Errorf("stderr does not name record %d (line %d): %s", line, line, errOut)
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// TestAuditBoundedUnderDenialFlood (SPEC 7.2): a denial carrying 2 MB of
// arguments is a small record; 100 more denials in a minute with
// maxLaunchesPerMinute 5 are each answered with their own code but
// recorded as 5 records and one summary, written before the next record;
// the log verifies.
func TestAuditBoundedUnderDenialFlood(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/echo")
	cfg["maxLaunchesPerMinute"] = 5
	s := startServer(t, e, cfg)
	big := strings.Repeat("A", 2<<20)
	sudoCode := s.fail("process_start", map[string]any{"executable": "sudo", "args": []string{"-c", big}}).Code
	for i := range 100 {
		if i%2 == 0 {
			if c := s.fail("process_start", map[string]any{"executable": "sudo", "args": []string{"id"}}).Code; c != sudoCode {
				t.Fatalf("denial %d of sudo: code %s, want %s", i, c, sudoCode)
			}
		} else {
			s.failCode("process_start", map[string]any{"executable": "bash"}, "SHELL_BLOCKED")
		}
	}
	var r runResult
	s.ok("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"after the flood"}}, &r)
	if err := s.close(); err != nil {
		t.Logf("server exit: %v", err)
	}

	data, err := os.ReadFile(e.audit)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 256<<10 {
		t.Errorf("audit log is %d bytes after 101 denials, one of them with 2 MB of arguments", len(data))
	}
	denials, summaries := 0, 0
	var summary map[string]any
	for i, rec := range e.auditRecords(t) {
		switch rec["event"] {
		case "launch_denied", "security_violation":
			denials++
			if args, _ := rec["args"].([]any); len(args) == 2 {
				if a, _ := args[1].(string); len(a) > 4096 || !strings.HasSuffix(a, "[truncated: 2097152 bytes]") {
					t.Errorf("record %d: the 2 MB argument recorded as %d bytes", i+1, len(a))
				}
			}
		case "denials_summarized":
			summaries++
			summary = rec
		case "launch":
			if summaries == 0 {
				t.Errorf("launch record %d before the denials' summary", i+1)
			}
		}
	}
	if denials != 5 || summaries != 1 {
		t.Fatalf("%d denial records and %d summaries, want 5 and 1", denials, summaries)
	}
	codes, _ := summary["codes"].(map[string]any)
	if n, _ := summary["count"].(float64); n != 96 || codes["SHELL_BLOCKED"] != float64(48) || codes[sudoCode] != float64(48) {
		t.Errorf("summary count %v codes %v, want 96: 48 SHELL_BLOCKED, 48 %s", summary["count"], codes, sudoCode)
	}
	if out, errOut, code := runCLI(t, e, "", nil, "audit", "verify", e.audit); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out, errOut)
	}
}
