//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// SPEC 7.4: what every agent and client can live with.

// seqOutput is what `seq 1 n` prints.
func seqOutput(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	return b.String()
}

// TestRunResultCapped: a command printing 3 MB gets the last 64 KiB of its
// output in the result, with truncated and the offsets that
// process_get_output reads the rest from, 64 KiB at a time.
func TestRunResultCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/usr/bin/seq"))
	const n = 450000
	want := seqOutput(n) // 3.1 MB
	res := s.call("process_run", map[string]any{"executable": "/usr/bin/seq", "args": []string{"1", fmt.Sprint(n)}})
	if res.IsError {
		t.Fatalf("process_run: %s", res.Structured)
	}
	// Text content and structuredContent are the same capped JSON: the
	// answer is about 2 x 64 KiB, not 2 x 3 MB.
	if len(res.Text) > 80<<10 || len(res.Structured) > 80<<10 {
		t.Errorf("result is %d bytes of text and %d of structuredContent", len(res.Text), len(res.Structured))
	}
	var r runResult
	if err := json.Unmarshal(res.Structured, &r); err != nil {
		t.Fatal(err)
	}
	total := int64(len(want))
	if !r.Truncated || r.StdoutBytes != total || r.NextOffset.Stdout != total || r.DroppedBytes.Stdout != 0 {
		t.Fatalf("run: truncated %v stdoutBytes %d nextOffset %d dropped %d, want true %d %d 0", r.Truncated, r.StdoutBytes, r.NextOffset.Stdout, r.DroppedBytes.Stdout, total, total)
	}
	if len(r.Stdout) != 64<<10 || r.Offset.Stdout != total-64<<10 || r.Stdout != want[r.Offset.Stdout:] {
		t.Fatalf("run: %d bytes of stdout from offset %d, want the last %d bytes", len(r.Stdout), r.Offset.Stdout, 64<<10)
	}
	if r.Stderr != "" || r.StderrBytes != 0 || r.Offset.Stderr != 0 {
		t.Errorf("stderr %q bytes %d offset %d", r.Stderr, r.StderrBytes, r.Offset.Stderr)
	}
	// Read the rest: from 0 up to the result's offset, 64 KiB per call by default.
	var got strings.Builder
	var off int64
	calls := 0
	for off < r.Offset.Stdout {
		var o outputResult
		s.ok("process_get_output", map[string]any{"pid": r.Pid, "stream": "stdout", "offset": off}, &o)
		calls++
		if o.Offset.Stdout != off || int64(len(o.Stdout)) != o.NextOffset.Stdout-off || len(o.Stdout) > 64<<10 || len(o.Stdout) == 0 {
			t.Fatalf("get_output from %d: %d bytes, offset %d, nextOffset %d", off, len(o.Stdout), o.Offset.Stdout, o.NextOffset.Stdout)
		}
		got.WriteString(o.Stdout)
		off = o.NextOffset.Stdout
	}
	if got.String()[:r.Offset.Stdout]+r.Stdout != want {
		t.Fatalf("output read on from the offsets differs from seq's output")
	}
	if wantCalls := int((r.Offset.Stdout + 64<<10 - 1) / (64 << 10)); calls != wantCalls {
		t.Errorf("%d calls of process_get_output, want %d (64 KiB each)", calls, wantCalls)
	}
	// maxResultBytes and maxBytes set the caps.
	s.ok("process_run", map[string]any{"executable": "/usr/bin/seq", "args": []string{"1", "1000"}, "maxResultBytes": 100}, &r)
	if w := seqOutput(1000); len(r.Stdout) != 100 || r.Stdout != w[len(w)-100:] || !r.Truncated {
		t.Errorf("maxResultBytes 100: %q truncated %v", r.Stdout, r.Truncated)
	}
	var o outputResult
	s.ok("process_get_output", map[string]any{"pid": r.Pid, "stream": "stdout", "maxBytes": 10}, &o)
	if o.Stdout != "1\n2\n3\n4\n5\n" || o.NextOffset.Stdout != 10 {
		t.Errorf("maxBytes 10: %q next %d", o.Stdout, o.NextOffset.Stdout)
	}
	s.ok("process_run", map[string]any{"executable": "/usr/bin/seq", "args": []string{"3"}}, &r)
	if r.Stdout != "1\n2\n3\n" || r.Truncated || r.Offset.Stdout != 0 || r.NextOffset.Stdout != 6 {
		t.Errorf("small run: %+v", r)
	}
}

// TestRunDefaults: the documented defaults are in the input schemas:
// waitTimeout 30 s (below the common 60 s client time-out), 64 KiB per
// stream in process_run's result and in process_get_output.
func TestRunDefaults(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := startServer(t, e, e.config("/bin/echo"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := s.session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defaults := map[string]map[string]float64{
		"process_run":        {"waitTimeout": 30000, "maxResultBytes": 65536},
		"process_get_output": {"maxBytes": 65536},
	}
	for _, tl := range res.Tools {
		want, ok := defaults[tl.Name]
		if !ok {
			continue
		}
		delete(defaults, tl.Name)
		props, _ := schemaMap(t, tl.InputSchema)["properties"].(map[string]any)
		for prop, v := range want {
			p, _ := props[prop].(map[string]any)
			if p["default"] != v {
				t.Errorf("%s.%s default = %v, want %v", tl.Name, prop, p["default"], v)
			}
		}
	}
	if len(defaults) > 0 {
		t.Errorf("tools missing: %v", defaults)
	}
}

// TestRunProgress: a run's progress notifications carry whole lines (not
// the write chunks), coalesced to at most ~10 per second, and a heartbeat
// at least every 5 s while the command is silent.
func TestRunProgress(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 not available")
	}
	e := newEnv(t)
	s := startServer(t, e, e.config("/usr/bin/python3"))
	// 300 lines written one byte per write over ~1 s, then 6 s of silence.
	script := "import os, time\n" +
		"for i in range(300):\n" +
		"    for c in 'line %03d\\n' % i: os.write(1, c.encode())\n" +
		"    if i % 30 == 0: time.sleep(0.1)\n" +
		"time.sleep(6)\n"
	path := filepath.Join(e.work, "lines.py") // arguments may not hold newlines
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": "/usr/bin/python3", "args": []string{path}}}
	p.SetProgressToken("lines")
	begin := time.Now()
	res, err := s.session.CallTool(ctx, p)
	end := time.Now()
	if err != nil {
		t.Fatalf("process_run: %v", err)
	}
	if r, err := toToolResult(res); err != nil || r.IsError {
		t.Fatalf("process_run: %v %s", err, r.Text)
	}
	notes, at := s.progressFor("lines")
	if len(notes) == 0 {
		t.Fatal("no progress notifications")
	}
	var lines strings.Builder
	beats := 0
	for i, n := range notes {
		if i > 0 && n.Progress <= notes[i-1].Progress {
			t.Errorf("progress %v after %v: not increasing", n.Progress, notes[i-1].Progress)
		}
		if strings.HasPrefix(n.Message, "pid ") {
			beats++
			continue
		}
		for _, l := range strings.Split(n.Message, "\n") {
			var k int
			if _, err := fmt.Sscanf(l, "line %03d", &k); err != nil || len(l) != len("line 000") {
				t.Errorf("notification %d carries %q: not whole lines (message %q)", i, l, n.Message)
			}
			lines.WriteString(l + "\n")
		}
	}
	var want strings.Builder
	for i := range 300 {
		fmt.Fprintf(&want, "line %03d\n", i)
	}
	if lines.String() != want.String() {
		t.Errorf("the lines in the notifications are not the output:\n%s", lines.String())
	}
	// Coalesced: 3000 one-byte writes, at most ~10 notifications a second.
	for i := range at {
		j := i
		for j < len(at) && at[j].Sub(at[i]) < time.Second {
			j++
		}
		if j-i > 15 {
			t.Errorf("%d notifications within one second from #%d", j-i, i)
			break
		}
	}
	// A heartbeat during the silence: no gap of more than 5 s.
	marks := append(append([]time.Time{begin}, at...), end)
	for i := 1; i < len(marks); i++ {
		if d := marks[i].Sub(marks[i-1]); d > 5*time.Second {
			t.Errorf("%v without a progress notification (before #%d)", d, i-1)
		}
	}
	if beats < 2 {
		t.Errorf("%d heartbeats during 6 s of silence", beats)
	}
	t.Logf("%d notifications (%d heartbeats) over %v", len(notes), beats, end.Sub(begin))
}
