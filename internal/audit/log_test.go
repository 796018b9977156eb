package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func fixedClock() func() time.Time {
	var mu sync.Mutex
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t0 = t0.Add(time.Millisecond)
		return t0
	}
}

func openLog(t *testing.T, opts Options) *Log {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedClock()
	}
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func launchRecord(i int) Record {
	code := i % 3
	return Record{
		Level: LevelInfo, Event: EventLaunch, Agent: "ci-bot", Tool: "process_start", PID: 1000 + i,
		Executable: "/usr/bin/echo", Args: []string{"hello", fmt.Sprintf("n=%d", i), "<&>"},
		Cwd: "/tmp/work", EnvNames: []string{"PATH", "HOME"}, Decision: "allow", ExitCode: &code,
	}
}

func writeN(t *testing.T, l *Log, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := l.Record(launchRecord(i)); err != nil {
			t.Fatalf("Record %d: %v", i, err)
		}
	}
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func writeLines(t *testing.T, path string, lines [][]byte) {
	t.Helper()
	if err := os.WriteFile(path, bytes.Join(lines, nil), 0o600); err != nil {
		t.Fatal(err)
	}
}

// independentHash recomputes a line's hash the way a third party would:
// SHA-256 of the prevHash text followed by the JCS form without "hash".
func independentHash(t *testing.T, line []byte) (prev, stored, computed string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatal(err)
	}
	stored, prev = m["hash"].(string), m["prevHash"].(string)
	delete(m, "hash")
	raw, _ := json.Marshal(m)
	canon, err := Canonicalize(raw)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(append([]byte(prev), canon...))
	return prev, stored, hex.EncodeToString(sum[:])
}

func TestChainOf100Verifies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "mcp-process", "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 100)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	lines := readLines(t, path)
	if len(lines) != 100 {
		t.Fatalf("%d lines, want 100", len(lines))
	}
	prevWant := GenesisHash
	for i, line := range lines {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if r.Seq != uint64(i+1) {
			t.Fatalf("line %d: seq %d", i+1, r.Seq)
		}
		if _, err := time.Parse(time.RFC3339Nano, r.Time); err != nil || !strings.HasSuffix(r.Time, "Z") {
			t.Fatalf("line %d: time %q is not RFC 3339 UTC", i+1, r.Time)
		}
		prev, stored, computed := independentHash(t, line)
		if prev != prevWant || stored != computed {
			t.Fatalf("line %d: prevHash %s (want %s), hash %s (computed %s)", i+1, prev, prevWant, stored, computed)
		}
		prevWant = stored
	}
	if !bytes.Contains(lines[0], []byte(`"<&>"`)) {
		t.Errorf("args are HTML-escaped or missing: %s", lines[0])
	}

	res, err := VerifyFile(path)
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	if res.Records != 100 || res.FirstSeq != 1 || res.LastSeq != 100 || res.LastHash != prevWant || res.Continuation {
		t.Fatalf("VerifyFile = %+v", res)
	}

	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("log mode %v, want 0600", st.Mode().Perm())
	}
	dst, _ := os.Stat(filepath.Dir(path))
	if dst.Mode().Perm() != 0o700 {
		t.Errorf("log dir mode %v, want 0700", dst.Mode().Perm())
	}
}

func TestVerifyNamesFirstBadRecord(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "orig.log")
	l := openLog(t, Options{Path: src})
	writeN(t, l, 100)
	l.Close()
	orig := readLines(t, src)

	clone := func() [][]byte {
		out := make([][]byte, len(orig))
		for i, l := range orig {
			out[i] = append([]byte(nil), l...)
		}
		return out
	}
	tests := []struct {
		name     string
		tamper   func([][]byte) [][]byte
		line     int
		seq      uint64
		reasonIn string
	}{
		{"flip one byte in an arg", func(ls [][]byte) [][]byte {
			i := bytes.Index(ls[49], []byte("n=49"))
			ls[49][i+2] = '8'
			return ls
		}, 50, 50, "hash mismatch"},
		{"flip one byte in the stored hash", func(ls [][]byte) [][]byte {
			i := bytes.Index(ls[49], []byte(`"hash":"`)) + len(`"hash":"`)
			ls[49][i] ^= 1
			return ls
		}, 50, 50, "hash mismatch"},
		{"flip a byte so the line is not JSON", func(ls [][]byte) [][]byte {
			ls[49][0] = '['
			return ls
		}, 50, 0, "invalid JSON"},
		{"flip a digit of seq", func(ls [][]byte) [][]byte {
			ls[49] = bytes.Replace(ls[49], []byte(`"seq":50`), []byte(`"seq":58`), 1)
			return ls
		}, 50, 58, "missing"},
		{"delete a line", func(ls [][]byte) [][]byte {
			return append(ls[:49:49], ls[50:]...)
		}, 50, 51, "1 record(s) missing"},
		{"delete the first line", func(ls [][]byte) [][]byte {
			return ls[1:]
		}, 1, 2, "records 1..1 are missing"},
		{"swap two lines", func(ls [][]byte) [][]byte {
			ls[49], ls[50] = ls[50], ls[49]
			return ls
		}, 50, 51, "missing"},
		{"repeat a line", func(ls [][]byte) [][]byte {
			return append(ls[:50:50], ls[49:]...)
		}, 51, 50, "out of order or repeated"},
		{"truncate the last line", func(ls [][]byte) [][]byte {
			ls[99] = ls[99][:len(ls[99])/2]
			return ls
		}, 100, 0, "truncated"},
		{"rewrite a record and its own hash", func(ls [][]byte) [][]byte {
			var r Record
			json.Unmarshal(ls[49], &r)
			r.Executable = "/usr/bin/true"
			sealRecord(&r)
			b, _ := marshalRecord(&r)
			ls[49] = append(b, '\n')
			return ls
		}, 51, 51, "prevHash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			writeLines(t, path, tt.tamper(clone()))
			_, err := VerifyFile(path)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyFile error = %v, want a *VerifyError", err)
			}
			if ve.File != path || ve.Line != tt.line || ve.Seq != tt.seq || !strings.Contains(ve.Reason, tt.reasonIn) {
				t.Fatalf("VerifyError = %+v (%v); want line %d seq %d reason containing %q",
					ve, ve, tt.line, tt.seq, tt.reasonIn)
			}
		})
	}
}

func TestRotationKeepsChain(t *testing.T) {
	tests := []struct {
		name         string
		keep         int
		continuation bool
	}{
		{"all files kept", 100, false},
		{"oldest files dropped", 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, Options{Path: path, MaxBytes: 2000, Keep: tt.keep})
			writeN(t, l, 60)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files, err := ChainFiles(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(files) < 3 {
				t.Fatalf("files %v: expected rotation", files)
			}
			if tt.keep == 2 {
				if len(files) != 3 {
					t.Fatalf("files %v: want audit.log.2, audit.log.1, audit.log", files)
				}
				if _, err := os.Stat(path + ".3"); !errors.Is(err, os.ErrNotExist) {
					t.Fatalf("audit.log.3 kept beyond Keep=2")
				}
			}
			total := 0
			for _, f := range files {
				st, _ := os.Stat(f)
				if st.Size() > 2000 {
					t.Errorf("%s is %d bytes, above MaxBytes", f, st.Size())
				}
				total += len(readLines(t, f))
			}
			res, err := VerifyFile(path)
			if err != nil {
				t.Fatalf("VerifyFile: %v", err)
			}
			if res.LastSeq != 60 || res.Records != total || res.Continuation != tt.continuation ||
				res.FirstSeq != uint64(60-total+1) {
				t.Fatalf("VerifyFile = %+v (lines %d)", res, total)
			}
			// A record removed at a file boundary is still detected.
			first := readLines(t, files[len(files)-1])
			writeLines(t, files[len(files)-1], first[1:])
			if _, err := VerifyFile(path); err == nil {
				t.Fatal("chain with a record missing at a file boundary verified")
			}
		})
	}
}

func TestReopenContinuesChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	for round := 0; round < 3; round++ {
		l, err := Open(Options{Path: path, Now: fixedClock()})
		if err != nil {
			t.Fatalf("round %d: Open: %v", round, err)
		}
		writeN(t, l, 5)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := VerifyFile(path)
	if err != nil || res.Records != 15 || res.LastSeq != 15 {
		t.Fatalf("VerifyFile = %+v, %v", res, err)
	}

	// Crash right after a rotation: the live file is empty, the chain
	// continues from audit.log.1.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	writeLines(t, path, nil)
	l := openLog(t, Options{Path: path})
	writeN(t, l, 1)
	l.Close()
	res, err = VerifyFile(path)
	if err != nil || res.Records != 16 || res.LastSeq != 16 {
		t.Fatalf("after rotation crash: VerifyFile = %+v, %v", res, err)
	}
}

func TestOpenRefusesDamagedLog(t *testing.T) {
	tests := []struct {
		name   string
		damage func(lines [][]byte) [][]byte
		wantIn string
	}{
		{"last line truncated", func(ls [][]byte) [][]byte {
			ls[2] = ls[2][:20]
			return ls
		}, "line 3 is truncated"},
		{"last line not JSON", func(ls [][]byte) [][]byte {
			ls[2] = []byte("garbage\n")
			return ls
		}, "line 3"},
		{"last line altered", func(ls [][]byte) [][]byte {
			ls[2] = bytes.Replace(ls[2], []byte("n=2"), []byte("n=7"), 1)
			return ls
		}, "hash does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, Options{Path: path})
			writeN(t, l, 3)
			l.Close()
			writeLines(t, path, tt.damage(readLines(t, path)))
			l2, err := Open(Options{Path: path})
			if err == nil {
				l2.Close()
				t.Fatal("Open accepted a damaged log")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("Open error %q: want the file and %q", err, tt.wantIn)
			}
		})
	}
}

func TestConcurrentRecordsHaveNoGaps(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, MaxBytes: 20000})
	const workers, each = 20, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := l.Record(launchRecord(i)); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	l.Close()
	res, err := VerifyFile(path)
	if err != nil {
		t.Fatalf("VerifyFile: %v", err)
	}
	if res.FirstSeq != 1 || res.LastSeq != workers*each || res.Records != workers*each {
		t.Fatalf("VerifyFile = %+v", res)
	}
}

func TestOpenFailsWhenUnwritable(t *testing.T) {
	dir := t.TempDir()
	regular := filepath.Join(dir, "not-a-dir")
	writeLines(t, regular, [][]byte{[]byte("x\n")})
	tests := []struct {
		name string
		opts Options
	}{
		{"parent is a regular file", Options{Path: filepath.Join(regular, "audit.log")}},
		{"grandparent is a regular file", Options{Path: filepath.Join(regular, "sub", "audit.log")}},
		{"path is a directory", Options{Path: dir}},
		{"path is a device", Options{Path: "/dev/null"}},
		{"violation log unwritable", Options{Path: filepath.Join(dir, "ok.log"), ViolationPath: filepath.Join(regular, "v.log")}},
		{"violation log is the audit log", Options{Path: filepath.Join(dir, "same.log"), ViolationPath: filepath.Join(dir, "same.log")}},
		{"no path", Options{}},
		{"bad level", Options{Path: filepath.Join(dir, "lvl.log"), Level: "verbose"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Open(tt.opts)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
		})
	}
}

func TestLevelFilter(t *testing.T) {
	tests := []struct {
		level string
		want  []string // events written
	}{
		{LevelDebug, []string{"read", "launch", "security_violation", "internal_error"}},
		{"", []string{"launch", "security_violation", "internal_error"}},
		{LevelInfo, []string{"launch", "security_violation", "internal_error"}},
		{LevelWarn, []string{"security_violation", "internal_error"}},
		{LevelError, []string{"internal_error"}},
	}
	for _, tt := range tests {
		t.Run("level="+tt.level, func(t *testing.T) {
			dir := t.TempDir()
			path, vpath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "violations.log")
			l := openLog(t, Options{Path: path, ViolationPath: vpath, Level: tt.level})
			for _, r := range []Record{
				{Level: LevelDebug, Event: EventRead, Tool: "process_get_output"},
				{Level: LevelInfo, Event: EventLaunch},
				{Level: LevelWarn, Event: EventSecurityViolation, Decision: "deny", Code: "SHELL_BLOCKED"},
				{Level: LevelError, Event: EventInternalError},
			} {
				if err := l.Record(r); err != nil {
					t.Fatal(err)
				}
			}
			if got := l.Enabled(LevelDebug); got != (tt.level == LevelDebug) {
				t.Errorf("Enabled(debug) = %v", got)
			}
			l.Close()
			var got []string
			for _, line := range readLines(t, path) {
				var r Record
				json.Unmarshal(line, &r)
				got = append(got, r.Event)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("events %v, want %v", got, tt.want)
			}
			// The violation log takes violations whatever the level.
			vl := readLines(t, vpath)
			if len(vl) != 1 || !bytes.Contains(vl[0], []byte(`"SHELL_BLOCKED"`)) {
				t.Fatalf("violation log: %q", vl)
			}
		})
	}
}

func TestViolationLogHasItsOwnChain(t *testing.T) {
	dir := t.TempDir()
	path, vpath := filepath.Join(dir, "audit.log"), filepath.Join(dir, "v", "violations.log")
	l := openLog(t, Options{Path: path, ViolationPath: vpath, Alerts: &AlertOptions{}}) // alerts without webhook
	for i := 0; i < 10; i++ {
		r := launchRecord(i)
		switch i % 3 {
		case 1:
			r.Level, r.Event, r.Decision, r.Code, r.Layer = LevelWarn, EventSecurityViolation, "deny", "SHELL_BLOCKED", "executable"
		case 2:
			r.Level, r.Event, r.Decision, r.Code = LevelWarn, EventLaunchDenied, "deny", "RATE_LIMITED"
		}
		if err := l.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	if l.alerts != nil {
		t.Fatal("an alert worker runs without a webhook URL")
	}
	l.Close()
	res, err := VerifyFile(path)
	if err != nil || res.Records != 10 {
		t.Fatalf("audit log: %+v, %v", res, err)
	}
	vres, err := VerifyFile(vpath)
	if err != nil || vres.Records != 6 || vres.FirstSeq != 1 || vres.LastSeq != 6 {
		t.Fatalf("violation log: %+v, %v", vres, err)
	}
	for _, line := range readLines(t, vpath) {
		var r Record
		json.Unmarshal(line, &r)
		if r.Decision != "deny" {
			t.Fatalf("violation log holds a non-violation: %s", line)
		}
	}
}

func TestDisabledWritesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path, Disabled: true})
	if err := l.Record(Record{Level: LevelWarn, Event: EventSecurityViolation, Decision: "deny"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("disabled log created %s", path)
	}
}

func TestWriteFailureIsReturned(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 2)
	// Swap the file for a read-only handle: the next write fails.
	ro, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	l.main.mu.Lock()
	good := l.main.f
	l.main.f = ro
	l.main.mu.Unlock()
	if err := l.Record(launchRecord(9)); err == nil {
		t.Fatal("Record reported success for a record that was not written")
	}
	l.main.mu.Lock()
	l.main.f = good
	l.main.mu.Unlock()
	ro.Close()
	// The failed record took no seq: the chain continues without a gap.
	writeN(t, l, 1)
	l.Close()
	if res, err := VerifyFile(path); err != nil || res.LastSeq != 3 {
		t.Fatalf("VerifyFile = %+v, %v", res, err)
	}
	if err := l.Record(launchRecord(1)); err == nil {
		t.Fatal("Record after Close succeeded")
	}
}

func TestRedactArgs(t *testing.T) {
	args := []string{"--user", "admin", "--password=hunter2", "x"}
	got := RedactArgs(args, map[int]bool{2: true, 7: true})
	want := []string{"--user", "admin", "[redacted]", "x"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("RedactArgs = %q, want %q", got, want)
	}
	if args[2] != "--password=hunter2" {
		t.Fatal("RedactArgs modified its input")
	}
	if RedactArgs(nil, nil) != nil {
		t.Fatal("RedactArgs(nil) != nil")
	}
}

// The server's start and stop are recorded whatever auditLogLevel says, so
// even a log at level error has a chain that verifies.
func TestStartAndStopAlwaysRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path, Level: LevelError})
	for _, r := range []Record{
		{Level: LevelInfo, Event: EventConfigLoaded},
		{Level: LevelInfo, Event: EventLaunch},
		{Level: LevelInfo, Event: EventServerStop},
	} {
		if err := l.Record(r); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	var got []string
	for _, line := range readLines(t, path) {
		var r Record
		json.Unmarshal(line, &r)
		got = append(got, r.Event)
	}
	if strings.Join(got, ",") != "config_loaded,server_stop" {
		t.Fatalf("events %v, want config_loaded,server_stop", got)
	}
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("verify: %v", err)
	}
}

// Group commit: records written while an fsync is under way share the next
// one, and each Record still returns only once its record is synced.
func TestConcurrentRecordsShareSyncs(t *testing.T) {
	var syncs atomic.Int64
	orig := syncFile
	syncFile = func(f *os.File) error {
		syncs.Add(1)
		time.Sleep(20 * time.Millisecond) // a slow disk: the others queue up meanwhile
		return orig(f)
	}
	t.Cleanup(func() { syncFile = orig })
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	const n = 32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Record(launchRecord(i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent records, %d fsyncs", n, syncs.Load())
	if got := syncs.Load(); got >= n/2 {
		t.Fatalf("%d concurrent records took %d fsyncs: want them shared (group commit)", n, got)
	}
	if res, err := VerifyFile(path); err != nil || res.Records != n {
		t.Fatalf("VerifyFile = %+v, %v", res, err)
	}
}
