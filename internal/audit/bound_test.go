package audit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func denial(agent, code string) Record {
	return Record{Level: LevelInfo, Event: EventLaunchDenied, Agent: agent, Tool: "process_start",
		Executable: "sudo", Decision: "deny", Layer: "executables", Code: code, Reason: "sudo is not allowed"}
}

func records(t *testing.T, path string) []Record {
	t.Helper()
	var out []Record
	for _, line := range readLines(t, path) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

func verifyOK(t *testing.T, path string) {
	t.Helper()
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("audit verify %s: %v", path, err)
	}
}

// A denial carrying 2 MB of arguments (one huge one, or a hundred thousand
// small ones) and a 1 MB cwd is a record of a few KiB that notes the
// original sizes; the chain verifies.
func TestRecordFieldsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	huge := denial("a", "EXECUTABLE_NOT_ALLOWED")
	huge.Args = []string{"-c", strings.Repeat("x", 2<<20)}
	huge.Cwd = "/" + strings.Repeat("é", 512<<10) // 1 MiB + 1 of 2-byte runes
	many := denial("a", "EXECUTABLE_NOT_ALLOWED")
	for range 100_000 {
		many.Args = append(many.Args, "0123456789abcdefghij")
	}
	many.EnvNames = []string{strings.Repeat("N", 10000)}
	orig := huge.Args[1]
	for _, r := range []Record{huge, many} {
		if err := l.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if huge.Args[1] != orig {
		t.Error("Record modified the caller's args")
	}
	lines := readLines(t, path)
	for i, line := range lines {
		if len(line) > MaxListBytes+3*MaxFieldBytes {
			t.Errorf("record %d is %d bytes", i+1, len(line))
		}
	}
	recs := records(t, path)
	if a := recs[0].Args[1]; len(a) > MaxFieldBytes || !strings.HasSuffix(a, "[truncated: 2097152 bytes]") {
		t.Errorf("2 MB argument recorded as %d bytes ending %q", len(a), a[max(0, len(a)-40):])
	}
	if c := recs[0].Cwd; len(c) > MaxFieldBytes || !utf8.ValidString(c) || !strings.Contains(c, "[truncated: 1048577 bytes]") {
		t.Errorf("1 MiB cwd recorded as %d bytes, valid UTF-8 %v", len(c), utf8.ValidString(c))
	}
	a := recs[1].Args
	if last := a[len(a)-1]; !strings.Contains(last, "not recorded; 100000 in all") {
		t.Errorf("100000 arguments: last element %q, want a note of those left out", last)
	}
	if n := recs[1].EnvNames[0]; !strings.HasSuffix(n, "[truncated: 10000 bytes]") {
		t.Errorf("10000-byte env name recorded as %q...", n[:20])
	}
	verifyOK(t, path)
}

// Past the allowance, an agent's denials are summarised: 100 denials with
// an allowance of 5 are 5 records and one summary (count 95, codes, first
// and last), written before the next other record. Another agent's
// denials are its own; the chain verifies.
func TestDenialFloodSummarised(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, DenialsPerWindow: 5})
	for i := range 100 {
		code := "EXECUTABLE_NOT_ALLOWED"
		if i%2 == 1 {
			code = "ARGUMENT_BLOCKED"
		}
		if err := l.Record(denial("flood", code)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readLines(t, path)); n != 5 {
		t.Fatalf("%d records after 100 denials (allowance 5), want 5 so far", n)
	}
	if err := l.Record(denial("other", "EXECUTABLE_NOT_ALLOWED")); err != nil {
		t.Fatal(err)
	}
	if err := l.Record(launchRecord(1)); err != nil {
		t.Fatal(err)
	}
	recs := records(t, path)
	if len(recs) != 8 {
		t.Fatalf("%d records, want 5 denials + summary + other agent's denial + launch", len(recs))
	}
	s := recs[5]
	if s.Event != EventDenialsSummarized || s.Agent != "flood" || s.Count != 95 || s.Decision != "deny" {
		t.Fatalf("summary: %+v", s)
	}
	if s.Codes["EXECUTABLE_NOT_ALLOWED"] != 47 || s.Codes["ARGUMENT_BLOCKED"] != 48 {
		t.Errorf("summary codes %v, want 47 EXECUTABLE_NOT_ALLOWED and 48 ARGUMENT_BLOCKED", s.Codes)
	}
	if s.First == nil || s.Last == nil || s.First.Code != "ARGUMENT_BLOCKED" || s.Last.Code != "ARGUMENT_BLOCKED" ||
		s.First.Executable != "sudo" || s.First.Time >= s.Last.Time {
		t.Errorf("summary first %+v last %+v", s.First, s.Last)
	}
	if recs[6].Agent != "other" || recs[6].Event != EventLaunchDenied || recs[7].Event != EventLaunch {
		t.Errorf("records after the summary: %+v, %+v", recs[6], recs[7])
	}
	// More denials in the same window: a new summary, written at Close.
	for range 3 {
		if err := l.Record(denial("flood", "EXECUTABLE_NOT_ALLOWED")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs = records(t, path)
	if last := recs[len(recs)-1]; last.Event != EventDenialsSummarized || last.Count != 3 {
		t.Errorf("last record at Close: %+v, want a summary of 3", last)
	}
	verifyOK(t, path)
}

// A summary of violations is a violation: it goes to the violation log.
func TestViolationFloodSummarised(t *testing.T) {
	dir := t.TempDir()
	path, vpath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "violations.log")
	l := openLog(t, Options{Path: path, ViolationPath: vpath, DenialsPerWindow: 2})
	for range 10 {
		r := denial("a", "EXECUTABLE_NOT_ALLOWED")
		r.Level, r.Event = LevelWarn, EventSecurityViolation
		if err := l.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	v := records(t, vpath)
	if len(v) != 3 || v[2].Event != EventDenialsSummarized || v[2].Count != 8 || v[2].Level != LevelWarn {
		t.Fatalf("violation log: %d records, last %+v; want 2 violations and a warn summary of 8", len(v), v[len(v)-1])
	}
	verifyOK(t, path)
	verifyOK(t, vpath)
}

// The summary is written when its window closes, with no other record to
// push it out; a denial in a new window is recorded on its own again.
func TestDenialSummaryAtWindowEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, DenialsPerWindow: 1, DenialWindow: 200 * time.Millisecond, Now: time.Now})
	for range 4 {
		if err := l.Record(denial("a", "EXECUTABLE_NOT_ALLOWED")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(readLines(t, path)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no summary 10 s after a 200 ms window closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := l.Record(denial("a", "EXECUTABLE_NOT_ALLOWED")); err != nil {
		t.Fatal(err)
	}
	recs := records(t, path)
	if len(recs) != 3 || recs[1].Event != EventDenialsSummarized || recs[1].Count != 3 || recs[2].Event != EventLaunchDenied {
		t.Fatalf("records: %+v", recs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	verifyOK(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

// A network record's strings are bounded too, and the caller's NetworkRef
// is left as it was.
func TestBoundRecordNetwork(t *testing.T) {
	n := &NetworkRef{Via: "connect", Destination: strings.Repeat("a", 3*MaxFieldBytes), Rule: "default"}
	r := Record{Event: EventSecurityViolation, Network: n}
	boundRecord(&r)
	if len(r.Network.Destination) > MaxFieldBytes || !strings.HasSuffix(r.Network.Destination, "[truncated: 12288 bytes]") {
		t.Errorf("destination bounded to %d bytes: %q", len(r.Network.Destination), r.Network.Destination[len(r.Network.Destination)-40:])
	}
	if len(n.Destination) != 3*MaxFieldBytes || r.Network == n {
		t.Error("the caller's NetworkRef was modified")
	}
}
