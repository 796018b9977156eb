//go:build linux

package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// captureBytes is what the writer of BenchmarkOutputCapture1GiB writes.
const captureBytes = 1 << 30

// captureWriters are the writers measured: coreutils head (4 KiB writes:
// head's own system calls bound the rate) and perl writing 1 MiB per
// write (the pipe is always full: what is left to time is the reader; dd
// is on the built-in blocklist).
var captureWriters = []struct {
	name string
	argv []string
}{
	{"head", []string{"/usr/bin/head", "-c", "1G", "/dev/zero"}},
	{"perl-1M", []string{"/usr/bin/perl", perlWriter}}, // the script's path is set at run time
}

// perlWriter is a script that writes 1 GiB of "y\n" to stdout, 1 MiB per
// write (a file, not -e: the default policy refuses an argument with ";").
const perlWriter = `my $b = "y\n" x 524288; for (1..1024) { my $o = 0; while ($o < 1048576) { $o += syswrite(STDOUT, $b, 1048576 - $o, $o) // die "write: $!" } }`

// BenchmarkOutputCapture1GiB is the performance issue's output-capture row:
// a child writes 1 GiB to stdout. Each iteration times, round robin, (a)
// the writer piped to `cat >/dev/null` (os/exec, start to both reaped) and
// (b) the same writer through process_run, an MCP client calling a server
// built as serve builds it (default profile, default maxOutputBufferSize
// and maxRetainedOutputBytes, audit log on disk, cgroups, the output
// notifier wired to the supervisor), the supervisor's rings capturing its
// stdout, from the call to its result. It reports both rates (median MB/s)
// and "capture-x-cat", the ratio of the medians (target ≥ 0.5), and the
// CPU time each reader took for the gigabyte (median): cat's ("cat-cpu-ms")
// and the benchmark process's, server and MCP client ("server-cpu-ms"),
// which a busy machine disturbs less than the rates.
//
//	go test -run '^$' -bench OutputCapture1GiB -benchtime 5x ./bench/
func BenchmarkOutputCapture1GiB(b *testing.B) {
	for _, w := range captureWriters {
		b.Run(w.name, func(b *testing.B) {
			if _, err := os.Stat(w.argv[0]); err != nil {
				b.Skipf("%s: %v", w.argv[0], err)
			}
			cs, dir := captureSession(b, w.argv[0])
			argv := w.argv
			if len(argv) == 2 && argv[1] == perlWriter {
				script := filepath.Join(dir, "write1g.pl")
				if err := os.WriteFile(script, []byte(perlWriter+"\n"), 0o644); err != nil {
					b.Fatal(err)
				}
				argv = []string{argv[0], script}
			}
			args := map[string]any{"executable": argv[0], "args": argv[1:], "waitTimeout": 300_000}
			var viaCat, viaUs, catCPU, ourCPU []time.Duration
			for b.Loop() {
				viaCat = append(viaCat, timed(func() { catCPU = append(catCPU, pipeToCat(b, argv)) }))
				c0 := cpuTime()
				viaUs = append(viaUs, timed(func() { runCaptured(b, cs, args) }))
				ourCPU = append(ourCPU, cpuTime()-c0)
			}
			mc, mu := median(viaCat), median(viaUs)
			rate := func(d time.Duration) float64 { return captureBytes / d.Seconds() / 1e6 }
			b.ReportMetric(rate(mc), "cat-MB/s")
			b.ReportMetric(rate(mu), "capture-MB/s")
			b.ReportMetric(mc.Seconds()/mu.Seconds(), "capture-x-cat")
			b.ReportMetric(float64(median(catCPU).Milliseconds()), "cat-cpu-ms")
			b.ReportMetric(float64(median(ourCPU).Milliseconds()), "server-cpu-ms")
		})
	}
}

// pipeToCat runs argv | cat >/dev/null and returns cat's CPU time.
func pipeToCat(b *testing.B, argv []string) time.Duration {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	w := exec.Command(argv[0], argv[1:]...)
	w.Stdout = pw
	c := exec.Command("cat")
	c.Stdin, c.Stdout = pr, null
	if err := w.Start(); err != nil {
		b.Fatal(err)
	}
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	pw.Close()
	pr.Close()
	if err := w.Wait(); err != nil {
		b.Fatalf("%v: %v", argv, err)
	}
	if err := c.Wait(); err != nil {
		b.Fatalf("cat: %v", err)
	}
	return c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}

// runCaptured is one process_run of args; the result must say the whole
// gigabyte was captured and the writer exited 0.
func runCaptured(b *testing.B, cs *mcp.ClientSession, args map[string]any) {
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: args})
	if err != nil {
		b.Fatalf("process_run: %v", err)
	}
	if res.IsError {
		b.Fatalf("process_run: %s", mustText(res))
	}
	raw, _ := json.Marshal(res.StructuredContent)
	var out struct {
		ExitCode    *int  `json:"exitCode"`
		StdoutBytes int64 `json:"stdoutBytes"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		b.Fatal(err)
	}
	if out.ExitCode == nil || *out.ExitCode != 0 || out.StdoutBytes != captureBytes {
		b.Fatalf("process_run: exit %v, %d bytes on stdout, want 0 and %d", out.ExitCode, out.StdoutBytes, captureBytes)
	}
}

// captureSession is mcpSession with exe allowed and the supervisor's
// output callback wired to the server's notifier, as serve wires them. It
// returns the session and the allowed working directory.
func captureSession(b *testing.B, exe string) (*mcp.ClientSession, string) {
	cfg := benchConfigT(b)
	cfg.AllowedExecutables = []string{exe}
	return benchSession(b, cfg, "out", true, false), cfg.AllowedWorkingDirectories[0]
}

func mustText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			return t.Text
		}
	}
	return fmt.Sprintf("%+v", res)
}
