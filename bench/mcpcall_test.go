package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/server"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// mcpSession is a server as cmd/mcp-process builds it for the default
// profile (audit log on disk, cgroups when the host has them) and an
// in-memory MCP client connected to it.
func mcpSession(b *testing.B, allow ...string) *mcp.ClientSession {
	return mcpSessionOver(b, false, allow...)
}

// mcpSessionOver is mcpSession over the in-memory transport, or (stdio)
// over a pair of pipes through the server's own stdio transport, as
// "mcp-process serve" speaks to its client.
func mcpSessionOver(b *testing.B, stdio bool, allow ...string) *mcp.ClientSession {
	cfg := benchConfigT(b)
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, allow...)
	return benchSession(b, cfg, "mcp", false, stdio)
}

// benchSession serves cfg as benchServer builds it and returns a Go SDK
// client connected to it, in memory or (stdio) over pipes. Everything is
// closed at cleanup.
func benchSession(b *testing.B, cfg *config.Config, cg string, wireOutput, stdio bool) *mcp.ClientSession {
	srv := benchServer(b, cfg, cg, wireOutput)
	var ct mcp.Transport
	if stdio {
		ct = stdioPipes(b, srv)
	} else {
		var st mcp.Transport
		ct, st = mcp.NewInMemoryTransports()
		ss, err := srv.MCP().Connect(context.Background(), st, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ss.Close() })
	}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cs.Close() })
	return cs
}

// benchServer is cfg served as cmd/mcp-process builds a server (audit log
// on disk, cgroups named mcp-process-bench-CG-PID when the host has them;
// with wireOutput the supervisor's output callback goes to the server's
// notifier, as serve wires them), shut down at cleanup.
func benchServer(b *testing.B, cfg *config.Config, cg string, wireOutput bool) *server.Server {
	cfg.EnableAuditLog = true
	cfg.AuditLogPath = filepath.Join(b.TempDir(), "audit.log")
	// The agents' homes in the benchmark's directory, prepared as serve
	// does at start (the default root, /var/lib/mcp-process/homes for
	// root, need not exist here); its parents traversable by the children.
	homes := filepath.Join(b.TempDir(), "homes")
	for _, d := range []string{filepath.Dir(filepath.Dir(homes)), filepath.Dir(homes)} {
		if err := os.Chmod(d, 0o755); err != nil {
			b.Fatal(err)
		}
	}
	iso, _ := sandbox.IsolationFor(cfg)
	if err := agenthome.Prepare(homes, iso.HomeOwner()); err != nil {
		b.Fatal(err)
	}
	pol, err := policy.New(cfg, policy.WithHomes(homes))
	if err != nil {
		b.Fatal(err)
	}
	alog, err := audit.Open(audit.Options{Path: cfg.AuditLogPath, Level: "info"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { alog.Close() })
	var srv *server.Server
	opts := supervisor.Options{Config: cfg, Audit: alog}
	if wireOutput {
		opts.OnOutput = func(pid int, stream string) { srv.OnOutput(pid, stream) }
	}
	if m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-bench-%s-%d", cg, os.Getpid())}); err == nil && m.Support().Version != "none" {
		b.Cleanup(func() { m.Close() })
		opts.Cgroups = m
	}
	sup := supervisor.New(opts)
	srv = server.New(server.Options{Config: cfg, Policy: pol, Supervisor: sup, Audit: alog, AgentID: "bench"})
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		sup.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// stdioPipes serves srv over a pair of pipes (rawPipes) and returns the
// client's transport.
func stdioPipes(b *testing.B, srv *server.Server) mcp.Transport {
	fromServer, fromClient := rawPipes(b, srv)
	return &mcp.IOTransport{Reader: fromServer, Writer: fromClient}
}

// rawPipes serves srv over a pair of pipes (ServeStdio, until the cleanup
// closes the client's ends and waits for it) and returns the client's
// ends: what the server writes, where to write to it.
func rawPipes(b *testing.B, srv *server.Server) (fromServer, fromClient *os.File) {
	toServer, fromClient, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	fromServer, toClient, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.ServeStdio(context.Background(), toServer, toClient)
	}()
	b.Cleanup(func() {
		fromClient.Close()
		<-done
		fromServer.Close()
	})
	return fromServer, fromClient
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

// BenchmarkMCPGetOutput64KiB: process_get_output of 64 KiB (stdout, utf8)
// from the middle of a full 10 MiB buffer (the default
// maxOutputBufferSize): the performance target is a median under 1 ms,
// the whole call through the MCP path (the ring's copy alone is
// BenchmarkRingRead64KiBFrom10MiB in internal/supervisor). in-memory and
// stdio are the Go SDK client's round trip; stdio-raw is the server's own
// answer time (rawClient: no client decoding; what to profile for the
// server's side); stdio-sdk-vs-raw interleaves the two, call for call.
func BenchmarkMCPGetOutput64KiB(b *testing.B) {
	for _, stdio := range []bool{false, true} {
		name := "in-memory"
		if stdio {
			name = "stdio"
		}
		b.Run(name, func(b *testing.B) { getOutput64KiB(b, mcpSessionOver(b, stdio, "/usr/bin/seq")) })
	}
	b.Run("stdio-raw", getOutputRaw)
	b.Run("stdio-sdk-vs-raw", getOutputSDKvsRaw)
}

func getOutput64KiB(b *testing.B, cs *mcp.ClientSession) {
	pid, offset := seqOffset(b, cs)
	args := map[string]any{"pid": pid, "stream": "stdout", "offset": offset, "maxBytes": 65536}
	var times []time.Duration
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		times = append(times, getOutputSDK(b, cs, args))
	}
	reportQuantiles(b, "", times)
}

// seqOffset runs seq 2000000 through cs (1..2,000,000, one per line: 14.9
// MB of text, so the ring is full) and returns its pid and the offset of
// the middle of its stdout buffer.
func seqOffset(b *testing.B, cs *mcp.ClientSession) (pid int, offset int64) {
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run",
		Arguments: map[string]any{"executable": "/usr/bin/seq", "args": []string{"2000000"}, "maxResultBytes": 1}})
	if err != nil || res.IsError {
		b.Fatalf("process_run seq: %v %+v", err, res)
	}
	var run struct {
		Pid        int
		NextOffset struct{ Stdout int64 }
	}
	if err := remarshal(res.StructuredContent, &run); err != nil || run.NextOffset.Stdout < 10<<20 {
		b.Fatalf("seq's result %+v: %v", run, err)
	}
	return run.Pid, run.NextOffset.Stdout - 5<<20
}

// getOutputSDK is one process_get_output through the Go SDK client, timed.
func getOutputSDK(b *testing.B, cs *mcp.ClientSession, args map[string]any) time.Duration {
	var r *mcp.CallToolResult
	var err error
	d := timed(func() {
		r, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_get_output", Arguments: args})
	})
	if err != nil || r.IsError {
		b.Fatalf("process_get_output: %v %+v", err, r)
	}
	return d
}

// remarshal decodes v (a decoded JSON value) into out.
func remarshal(v any, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
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
