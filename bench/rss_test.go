//go:build linux

package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// idleProcesses is the performance issue's "100 idle managed processes".
const idleProcesses = 100

// BenchmarkServeRSS is the performance issue's memory rows: the resident
// set of the real server (cmd/mcp-process built as released, CGO_ENABLED=0,
// `serve` over stdio, a Go SDK client) after initialize, and after
// idleProcesses process_start of `sleep 600` (captureOutput and stdin pipe
// as by default), each read from /proc/PID/status a moment after the
// calls. The config allows sleep, raises the quotas that would refuse a
// hundredth process and keeps every other default (audit log on disk, the
// private view, Landlock, the seccomp baseline, cgroup limits). It
// reports "idle-MiB", "100-idle-MiB" (targets ≤ 25 and ≤ 40), the
// difference per process ("KiB/process") and the server's threads.
//
//	go test -run '^$' -bench ServeRSS -benchtime 1x ./bench/
func BenchmarkServeRSS(b *testing.B) {
	if _, err := os.Stat("/usr/bin/sleep"); err != nil {
		b.Skip("no /usr/bin/sleep")
	}
	dir := b.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil { // a root server's children run as uid 65534
			b.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "mcp-process")
	build := exec.Command("go", "build", "-o", bin, "github.com/mcp-process/mcp-process/cmd/mcp-process")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	work := filepath.Join(dir, "work")
	if err := os.MkdirAll(work, 0o777); err != nil {
		b.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{
		"allowedExecutables":             []string{"/usr/bin/sleep"},
		"allowedWorkingDirectories":      []string{work},
		"auditLogPath":                   filepath.Join(dir, "audit", "audit.log"),
		"maxLaunchesPerMinute":           10 * idleProcesses,
		"maxLaunchesPerHour":             10 * idleProcesses,
		"maxConcurrentProcesses":         2 * idleProcesses,
		"maxConcurrentProcessesPerAgent": 2 * idleProcesses,
		"maxTotalProcesses":              10 * idleProcesses,
	})
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		b.Fatal(err)
	}

	for b.Loop() {
		idle, busy, threads := serveRSS(b, bin, cfgPath, dir)
		b.ReportMetric(float64(idle)/(1<<20), "idle-MiB")
		b.ReportMetric(float64(busy)/(1<<20), "100-idle-MiB")
		b.ReportMetric(float64(busy-idle)/1024/idleProcesses, "KiB/process")
		b.ReportMetric(float64(threads), "threads")
	}
}

// serveRSS starts one server, returns its RSS after initialize and after
// idleProcesses sleeps, and its thread count then; the session's end
// stops the server and its children.
func serveRSS(b *testing.B, bin, cfgPath, dir string) (idle, busy int64, threads int) {
	var stderr strings.Builder
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"), "XDG_STATE_HOME="+filepath.Join(dir, "state"))
	cmd.Stderr = &stderr
	ctx := context.Background()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench-rss"}, nil).Connect(ctx,
		&mcp.CommandTransport{Command: cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		b.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	defer cs.Close()
	pid := cmd.Process.Pid
	settle := func() { time.Sleep(2 * time.Second) }
	settle()
	idle, _ = procStatus(b, pid)
	for i := range idleProcesses {
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "process_start",
			Arguments: map[string]any{"executable": "/usr/bin/sleep", "args": []string{"600"}}})
		if err != nil {
			b.Fatalf("process_start %d: %v", i, err)
		}
		if res.IsError {
			b.Fatalf("process_start %d: %s\n%s", i, mustText(res), stderr.String())
		}
	}
	settle()
	busy, threads = procStatus(b, pid)
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "process_list", Arguments: map[string]any{"state": "running"}})
	if err != nil || res.IsError {
		b.Fatalf("process_list: %v %v", err, res)
	}
	if n := strings.Count(mustText(res), `"pid"`); n != idleProcesses {
		b.Fatalf("process_list: %d running, want %d", n, idleProcesses)
	}
	return idle, busy, threads
}

// procStatus reads pid's VmRSS (bytes) and thread count.
func procStatus(b *testing.B, pid int) (rss int64, threads int) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rss = n << 10
		case "Threads":
			threads = int(n)
		}
	}
	return rss, threads
}
