package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/server"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// mcpSession is a server as cmd/mcp-process builds it for the default
// profile (audit log on disk, cgroups when the host has them) and an
// in-memory MCP client connected to it.
func mcpSession(b *testing.B) *mcp.ClientSession {
	cfg := benchConfigT(b)
	cfg.EnableAuditLog = true
	cfg.AuditLogPath = filepath.Join(b.TempDir(), "audit.log")
	pol, err := policy.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	alog, err := audit.Open(audit.Options{Path: cfg.AuditLogPath, Level: "info"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { alog.Close() })
	opts := supervisor.Options{Config: cfg, Audit: alog}
	if cg, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-bench-mcp-%d", os.Getpid())}); err == nil && cg.Support().Version != "none" {
		b.Cleanup(func() { cg.Close() })
		opts.Cgroups = cg
	}
	sup := supervisor.New(opts)
	srv := server.New(server.Options{Config: cfg, Policy: pol, Supervisor: sup, Audit: alog, AgentID: "bench"})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
		srv.Close()
	})
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(context.Background(), st, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// BenchmarkMCPProcessRun: one process_run of /bin/true through the MCP
// path, back to back: what to profile for the cost above the launch
// (go test -bench MCPProcessRun -cpuprofile, -memprofile).
func BenchmarkMCPProcessRun(b *testing.B) {
	cs := mcpSession(b)
	args := map[string]any{"executable": truePath}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: args})
		if err != nil || res.IsError {
			b.Fatalf("process_run: %v %+v", err, res)
		}
	}
}

// BenchmarkMCPListTools: one tools/list through the MCP path.
func BenchmarkMCPListTools(b *testing.B) {
	cs := mcpSession(b)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := cs.ListTools(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU reports the process's CPU time (user + system, client and
// server together, not the children) per iteration: on a busy machine a
// steadier figure than the wall time. Call the result when the loop is done.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
