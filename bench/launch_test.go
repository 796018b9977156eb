//go:build linux

// Package bench measures what a launch costs, against a bare os/exec of
// /bin/true measured in the same run (run.sh prints the table).
//
// One benchmark runs every variant once per iteration, round robin, so that
// a noisy machine slows them all alike, and reports each variant's median
// (and the ratio of each median to the bare launch's). Launches are paced
// (an untimed pause before each), as an agent's are: back-to-back launches
// on a 2-core machine would time the previous launch's housekeeping instead.
package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/server"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

const truePath = "/bin/true"

// pace is the idle time before each timed launch (not counted).
const pace = 15 * time.Millisecond

// variant is one way of launching /bin/true; run returns when the launch
// is measured (the child runs, or has exited, per variant).
type variant struct {
	name string
	run  func(b *testing.B) time.Duration
}

func benchConfig(b *testing.B) *config.Config { return benchConfigT(b) }

func benchConfigT(b testing.TB) *config.Config {
	cfg := config.Defaults()
	cfg.AllowedExecutables = []string{truePath, "true"}
	cfg.AllowedWorkingDirectories = []string{b.TempDir()}
	cfg.MaxLaunchesPerMinute = 0
	cfg.MaxConcurrentProcesses = 0
	cfg.EnableAuditLog = false
	return cfg
}

func spec(b *testing.B, pol *policy.Policy) *policy.Spec {
	d := pol.Evaluate(policy.Request{Executable: truePath}, time.Now())
	if !d.Allow {
		b.Fatalf("policy refuses %s: %v", truePath, d.Err)
	}
	return d.Spec
}

func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

// BenchmarkLaunch: every variant, round robin; medians as custom metrics.
func BenchmarkLaunch(b *testing.B) {
	cfg := benchConfig(b)
	pol, err := policy.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sp := spec(b, pol)

	cg, err := cgroup.Detect(cgroup.DetectOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer cg.Close()
	useCg := cg.Support().Version != "none"

	launcher := sandbox.NewLauncher()
	defer launcher.Close()

	// supervisor without cgroups, and with them
	supPlain := supervisor.New(supervisor.Options{Config: cfg})
	supCg := supervisor.New(supervisor.Options{Config: cfg, Cgroups: cg})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		supPlain.Shutdown(ctx)
		supCg.Shutdown(ctx)
	}()

	// the full MCP path: in-memory client, audit log on disk (fsync per record)
	acfg := cfg.Clone()
	acfg.EnableAuditLog = true
	acfg.AuditLogPath = filepath.Join(b.TempDir(), "audit.log")
	alog, err := audit.Open(audit.Options{Path: acfg.AuditLogPath, Level: "info"})
	if err != nil {
		b.Fatal(err)
	}
	defer alog.Close()
	supMCP := supervisor.New(supervisor.Options{Config: acfg, Audit: alog, Cgroups: cg})
	srv := server.New(server.Options{Config: acfg, Policy: pol, Supervisor: supMCP, Audit: alog, AgentID: "bench"})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		supMCP.Shutdown(ctx)
		srv.Close()
	}()
	ct, st := mcp.NewInMemoryTransports()
	ss, err := srv.MCP().Connect(context.Background(), st, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench"}, nil).Connect(context.Background(), ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()

	devnull, _ := os.Open(os.DevNull)
	defer devnull.Close()

	stageRun := func(b *testing.B, withCgroup bool) time.Duration {
		var g *cgroup.Group
		defer func() {
			if g != nil { // housekeeping, as the supervisor does it: after the exit
				g.Kill()
				g.Remove()
			}
		}()
		return timed(func() {
			if withCgroup {
				var err error
				if g, err = cg.New("bench", cgroup.Limits{MemoryBytes: 256 << 20, Pids: 16, CPUPercent: 80}); err != nil {
					b.Fatal(err)
				}
			}
			p, err := launcher.Start(sp, sandbox.Stdio{})
			if err != nil {
				b.Fatal(err)
			}
			if g != nil {
				if err := g.Join(p.Pid); err != nil {
					b.Fatal(err)
				}
			}
			if err := p.Release(); err != nil {
				b.Fatal(err)
			}
			p.Wait()
		})
	}
	variants := []variant{
		{"bare-exec", func(b *testing.B) time.Duration {
			return timed(func() {
				if err := exec.Command(truePath).Run(); err != nil {
					b.Fatal(err)
				}
			})
		}},
		{"bare-start", func(b *testing.B) time.Duration {
			c := exec.Command(truePath)
			d := timed(func() {
				if err := c.Start(); err != nil {
					b.Fatal(err)
				}
			})
			c.Wait()
			return d
		}},
		{"stage-run", func(b *testing.B) time.Duration { return stageRun(b, false) }},
		{"stage-cgroup-run", func(b *testing.B) time.Duration {
			if !useCg {
				return 0
			}
			return stageRun(b, true)
		}},
		{"supervisor-start", func(b *testing.B) time.Duration {
			var pid int
			d := timed(func() {
				s, err := supCg.Start("bench", sp, supervisor.StartOptions{CaptureOutput: true})
				if err != nil {
					b.Fatal(err)
				}
				pid = s.Pid
			})
			if _, err := supCg.Wait(context.Background(), "bench", pid, 10*time.Second); err != nil {
				b.Fatal(err)
			}
			return d
		}},
		{"supervisor-run-nocgroup", func(b *testing.B) time.Duration {
			return timed(func() {
				if _, err := supPlain.Run(context.Background(), "bench", sp, supervisor.StartOptions{CaptureOutput: true}, 10*time.Second, nil); err != nil {
					b.Fatal(err)
				}
			})
		}},
		{"supervisor-run", func(b *testing.B) time.Duration {
			return timed(func() {
				if _, err := supCg.Run(context.Background(), "bench", sp, supervisor.StartOptions{CaptureOutput: true}, 10*time.Second, nil); err != nil {
					b.Fatal(err)
				}
			})
		}},
		{"mcp-process_run", func(b *testing.B) time.Duration {
			return timed(func() {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": truePath}})
				if err != nil || res.IsError {
					b.Fatalf("process_run: %v %+v", err, res)
				}
			})
		}},
	}
	// Warm up every path once (page cache, pools, first cgroup).
	for _, v := range variants {
		v.run(b)
	}
	samples := make([][]time.Duration, len(variants))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, v := range variants {
			// Paced, as agents launch (seconds apart, not back to back):
			// the previous launch's housekeeping (reaping, cgroup removal,
			// warm-stage refill) is done before the next is timed.
			time.Sleep(pace)
			samples[j] = append(samples[j], v.run(b))
		}
	}
	b.StopTimer()
	// "-start" variants (until the child runs) compare with bare-start,
	// the others (until the child has exited) with bare-exec.
	bareRun, bareStart := median(samples[0]), median(samples[1])
	for j, v := range variants {
		m := median(samples[j])
		if m == 0 {
			continue
		}
		b.ReportMetric(float64(m.Nanoseconds()), v.name+"-median-ns")
		base := bareRun
		if strings.HasSuffix(v.name, "-start") {
			base = bareStart
		}
		if j > 1 && base > 0 {
			b.ReportMetric(float64(m)/float64(base), v.name+"-x-bare")
		}
	}
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
