//go:build linux

// Package bench measures what a launch costs, against a bare os/exec of
// /bin/true and against bubblewrap, both measured in the same run (run.sh
// prints the table).
//
// One benchmark runs every variant once per iteration, round robin, so that
// a noisy machine slows them all alike, and reports each variant's median,
// the ratio of each median to the bare launch's ("-x-bare") and, for the
// fully isolated launches, to bubblewrap's ("-x-bwrap"). Launches are paced
// (an untimed pause before each), as an agent's are: back-to-back launches
// on a 2-core machine would time the previous launch's housekeeping instead
// (a launcher tops its warm pool up 25 ms after a launch, which takes a few
// ms; the pause is longer than both, so that the refill after one variant's
// launch does not land in the next variant's).
//
// The per-namespace variants launch through a launcher whose stages get
// exactly one namespace: warm ("ns-X", the stage was cloned into it ahead of
// the launch) and cold ("ns-X-cold", pool size 0, the clone is on the
// launch's path). Each reports "-extra-ns", the median of its per-iteration
// difference to the same launch without a namespace, so the reader sees
// what a namespace adds to a launch and what it adds to creating a stage.
package bench

import (
	"context"
	"fmt"
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
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
	"github.com/mcp-process/mcp-process/internal/server"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

const truePath = "/bin/true"

// pace is the idle time before each timed launch (not counted): longer than
// a launcher's refill delay plus the refill itself.
const pace = 40 * time.Millisecond

// bwrapArgs is the reference: bubblewrap with every namespace it
// can create, a read-only view of / and fresh /dev and /proc.
var bwrapArgs = []string{"--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", truePath}

// bwrapNoNetArgs is the same, sharing the host's network namespace (the
// difference is bubblewrap's network-namespace share).
var bwrapNoNetArgs = []string{"--unshare-all", "--share-net", "--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", truePath}

// bwrapMountOnlyArgs unshares nothing but the mount namespace bubblewrap
// always creates (the difference is the other namespaces' share).
var bwrapMountOnlyArgs = []string{"--die-with-parent", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", truePath}

// allNamespaces is every namespace the configuration knows.
var allNamespaces = config.Namespaces{PID: true, Network: true, Mount: true, UTS: true, IPC: true, User: true}

// oneNamespace lists the namespaces one by one, in the order of the report.
var oneNamespace = []struct {
	name string
	ns   config.Namespaces
}{
	{"user", config.Namespaces{User: true}},
	{"pid", config.Namespaces{PID: true}},
	{"mount", config.Namespaces{Mount: true}},
	{"net", config.Namespaces{Network: true}},
	{"uts", config.Namespaces{UTS: true}},
	{"ipc", config.Namespaces{IPC: true}},
}

// variant is one way of launching /bin/true; run returns when the launch
// is measured (the child runs, or has exited, per variant).
type variant struct {
	name string
	run  func(b *testing.B) time.Duration
	// skip, if set, is why the variant is not run on this host.
	skip string
	// vsBwrap: report the ratio of the median to bwrap's too.
	vsBwrap bool
	// over, if set, names the variant this one is the same launch as,
	// minus one thing: "-extra-ns" is the median per-iteration difference.
	over string
}

// benchConfigT is the policy every variant launches under: /bin/true, a
// working directory any uid can enter (a user namespace's root is an
// unprivileged host uid) and outside /tmp (a read-only filesystem's
// private /tmp hides the host's), no quotas, no audit.
func benchConfigT(b testing.TB) *config.Config {
	parent := "/var/tmp"
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		parent = ""
	}
	dir, err := os.MkdirTemp(parent, "mcp-process-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.AllowedExecutables = []string{truePath, "true"}
	cfg.AllowedWorkingDirectories = []string{dir}
	cfg.MaxLaunchesPerMinute = 0
	cfg.MaxConcurrentProcesses = 0
	cfg.EnableAuditLog = false
	return cfg
}

// isolatedConfig is cfg with the full isolation profile: every
// namespace, seccomp strict, Landlock (cgroups come from the supervisor's
// cgroup manager), plus a read-only filesystem when readOnly is set.
func isolatedConfig(cfg *config.Config, readOnly bool) *config.Config {
	c := cfg.Clone()
	c.EnableNamespaces = true
	c.Namespaces = allNamespaces
	c.EnableSeccomp = true
	c.SeccompProfile = "strict"
	c.Landlock = true
	if readOnly {
		c.ReadOnlyFilesystem = true
		c.TmpfsSize = 64
	}
	return c
}

func spec(b *testing.B, pol *policy.Policy) *policy.Spec {
	d := pol.Evaluate(policy.Request{Executable: truePath}, time.Now())
	if !d.Allow {
		b.Fatalf("policy refuses %s: %v", truePath, d.Err)
	}
	// The launches are measured, not the agent's HOME (the supervisor
	// creates it; the launcher alone would not): /bin/true needs none.
	d.Spec.Home = ""
	return d.Spec
}

func timed(f func()) time.Duration {
	t0 := time.Now()
	f()
	return time.Since(t0)
}

// launch is one launch through l: Start, Release, Wait; /bin/true must exit 0.
func launch(b *testing.B, l *sandbox.Launcher, sp *policy.Spec) time.Duration {
	return timed(func() {
		p, err := l.Start(sp, sandbox.Stdio{})
		if err != nil {
			b.Fatal(err)
		}
		if err := p.Release(); err != nil {
			b.Fatal(err)
		}
		if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
			b.Fatalf("%s through the init stage: %v", truePath, st)
		}
	})
}

// bwrapSkip says why bubblewrap cannot be measured here ("" if it can).
func bwrapSkip() string {
	if _, err := exec.LookPath("bwrap"); err != nil {
		return "bwrap not found (apt-get install bubblewrap)"
	}
	if out, err := exec.Command("bwrap", bwrapArgs...).CombinedOutput(); err != nil {
		return fmt.Sprintf("bwrap %s: %v: %s", strings.Join(bwrapArgs, " "), err, strings.TrimSpace(string(out)))
	}
	return ""
}

func bwrapRun(args []string) func(b *testing.B) time.Duration {
	return func(b *testing.B) time.Duration {
		return timed(func() {
			if out, err := exec.Command("bwrap", args...).CombinedOutput(); err != nil {
				b.Fatalf("bwrap: %v: %s", err, out)
			}
		})
	}
}

// BenchmarkLaunch: every variant, round robin; medians as custom metrics.
func BenchmarkLaunch(b *testing.B) {
	cfg := benchConfigT(b)
	pol, err := policy.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sp := spec(b, pol)

	var closers []func()
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	// Every supervisor gets a cgroup manager (a parent group) of its own,
	// as a server has: supervisors name their groups stage-N and p-N, so
	// two sharing a parent would collide, and a warm stage whose group
	// cannot be created is discarded (every launch would then be cold).
	nCg := 0
	newCgroups := func() *cgroup.Manager {
		nCg++
		m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-bench-%d-%d", os.Getpid(), nCg)})
		if err != nil {
			b.Fatal(err)
		}
		closers = append(closers, func() { m.Close() })
		return m
	}
	cg := newCgroups()
	useCg := cg.Support().Version != "none"
	newLauncher := func(o sandbox.LauncherOptions) *sandbox.Launcher {
		l := sandbox.NewLauncher(o)
		closers = append(closers, l.Close)
		return l
	}
	newSupervisor := func(o supervisor.Options) *supervisor.Supervisor {
		s := supervisor.New(o)
		closers = append(closers, func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Shutdown(ctx)
		})
		return s
	}

	launcher := newLauncher(sandbox.LauncherOptions{Stage: sandbox.StageGo})
	coldLauncher := newLauncher(sandbox.LauncherOptions{PoolSize: -1, Stage: sandbox.StageGo})
	// The steps every child of the default profile gets since SPEC 7.1 (a
	// root server's uid 65534, the scoped Landlock domain, the tree's
	// executables), against stage-run, which has none of them.
	safeIso := sandbox.Isolation{Scope: hostfeat.LandlockScope() == nil}
	if os.Geteuid() == 0 {
		safeIso.Identity = config.ChildIdentity{Set: true, UID: config.NobodyID, GID: config.NobodyID}
	}
	if cfg.Landlock || hostfeat.LandlockScope() == nil {
		tree, err := pol.TreeExecutables()
		if err != nil {
			b.Fatal(err)
		}
		safeIso.ExecPaths = tree
	}
	safeLauncher := newLauncher(sandbox.LauncherOptions{Isolation: safeIso, Stage: sandbox.StageGo})
	// Everything a child of the default profile gets but cgroups, as the
	// server builds it (the private view, identity, scope, the seccomp
	// baseline), against stage-run.
	defIso, err := sandbox.IsolationFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	defLauncher := newLauncher(sandbox.LauncherOptions{Isolation: defIso, Stage: sandbox.StageGo})
	// The same launches forked by the zygote (no Go runtime per launch).
	zygLauncher := newLauncher(sandbox.LauncherOptions{Stage: sandbox.StageZygote})
	zygDefLauncher := newLauncher(sandbox.LauncherOptions{Isolation: defIso, Stage: sandbox.StageZygote})
	// The seccomp baseline every child gets since SPEC 7.1a (no AF_UNIX,
	// AF_VSOCK sockets, no io_uring), alone, against stage-run.
	baseline, err := seccomp.Program(seccomp.Baseline, false)
	if err != nil {
		b.Fatal(err)
	}
	seccompLauncher := newLauncher(sandbox.LauncherOptions{Isolation: sandbox.Isolation{Seccomp: baseline}, Stage: sandbox.StageGo})

	// supervisor without cgroups, and with them
	supPlain := newSupervisor(supervisor.Options{Config: cfg})
	supCg := newSupervisor(supervisor.Options{Config: cfg, Cgroups: newCgroups()})

	// The full isolation profile, as the server builds it from its
	// configuration (the supervisor's launcher), and through a launcher
	// alone, warm and cold.
	isoSkip := ""
	if os.Geteuid() != 0 {
		isoSkip = "needs root (namespaces, cgroups)"
	}
	isoCfg, isoROCfg := isolatedConfig(cfg, false), isolatedConfig(cfg, true)
	fullIso, err := sandbox.IsolationFor(isoCfg)
	if err != nil {
		b.Fatalf("the full isolation profile cannot be built: %v", err)
	}
	// bench/compare's full isolation profile: every namespace but user,
	// read-only filesystem. A root server's zygote plans it; the same
	// launches through a Go stage, for the ratio.
	nuCfg := isolatedConfig(cfg, true)
	nuCfg.Namespaces.User = false
	nuIso, err := sandbox.IsolationFor(nuCfg)
	if err != nil {
		b.Fatalf("the full isolation profile without a user namespace cannot be built: %v", err)
	}
	var supIso, supIsoRO, supIsoNU *supervisor.Supervisor
	var isoLauncher, isoColdLauncher, isoNULauncher, zygIsoLauncher *sandbox.Launcher
	nsWarm := make([]*sandbox.Launcher, len(oneNamespace))
	nsCold := make([]*sandbox.Launcher, len(oneNamespace))
	if isoSkip == "" {
		supIso = newSupervisor(supervisor.Options{Config: isoCfg, Cgroups: newCgroups()})
		supIsoRO = newSupervisor(supervisor.Options{Config: isoROCfg, Cgroups: newCgroups()})
		isoLauncher = newLauncher(sandbox.LauncherOptions{Isolation: fullIso})
		isoColdLauncher = newLauncher(sandbox.LauncherOptions{PoolSize: -1, Isolation: fullIso})
		supIsoNU = newSupervisor(supervisor.Options{Config: nuCfg, Cgroups: newCgroups()})
		isoNULauncher = newLauncher(sandbox.LauncherOptions{Isolation: nuIso, Stage: sandbox.StageGo})
		zygIsoLauncher = newLauncher(sandbox.LauncherOptions{Isolation: nuIso, Stage: sandbox.StageZygote})
		for i, n := range oneNamespace {
			iso := sandbox.Isolation{Namespaces: n.ns}
			nsWarm[i] = newLauncher(sandbox.LauncherOptions{Isolation: iso, Stage: sandbox.StageGo})
			nsCold[i] = newLauncher(sandbox.LauncherOptions{PoolSize: -1, Isolation: iso, Stage: sandbox.StageGo})
		}
	}
	bwSkip := bwrapSkip()

	// the full MCP path: in-memory client, audit log on disk (fsync per record)
	acfg := cfg.Clone()
	acfg.EnableAuditLog = true
	acfg.AuditLogPath = filepath.Join(b.TempDir(), "audit.log")
	alog, err := audit.Open(audit.Options{Path: acfg.AuditLogPath, Level: "info"})
	if err != nil {
		b.Fatal(err)
	}
	defer alog.Close()
	supMCP := supervisor.New(supervisor.Options{Config: acfg, Audit: alog, Cgroups: newCgroups()})
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
	supRun := func(s **supervisor.Supervisor) func(b *testing.B) time.Duration {
		return func(b *testing.B) time.Duration {
			return timed(func() {
				res, err := (*s).Run(context.Background(), "bench", sp, supervisor.StartOptions{CaptureOutput: true}, supervisor.RunOptions{WaitTimeout: 10 * time.Second})
				if err != nil {
					b.Fatal(err)
				}
				if res.ExitCode == nil || *res.ExitCode != 0 {
					b.Fatalf("%s under the supervisor: exit %v, signal %q, stderr %q", truePath, res.ExitCode, res.Signal, res.Stderr)
				}
			})
		}
	}
	cgSkip := ""
	if !useCg {
		cgSkip = "no cgroups"
	}
	variants := []variant{
		{name: "bare-exec", run: func(b *testing.B) time.Duration {
			return timed(func() {
				if err := exec.Command(truePath).Run(); err != nil {
					b.Fatal(err)
				}
			})
		}},
		{name: "bare-start", run: func(b *testing.B) time.Duration {
			c := exec.Command(truePath)
			d := timed(func() {
				if err := c.Start(); err != nil {
					b.Fatal(err)
				}
			})
			c.Wait()
			return d
		}},
		{name: "stage-run", run: func(b *testing.B) time.Duration { return stageRun(b, false) }},
		{name: "stage-safe-run", run: func(b *testing.B) time.Duration { return launch(b, safeLauncher, sp) }},
		{name: "stage-default-run", run: func(b *testing.B) time.Duration { return launch(b, defLauncher, sp) }},
		{name: "stage-seccomp-run", over: "stage-run", run: func(b *testing.B) time.Duration { return launch(b, seccompLauncher, sp) }},
		{name: "zygote-run", over: "stage-run", run: func(b *testing.B) time.Duration { return launch(b, zygLauncher, sp) }},
		{name: "zygote-default-run", over: "stage-default-run", run: func(b *testing.B) time.Duration { return launch(b, zygDefLauncher, sp) }},
		{name: "stage-cgroup-run", skip: cgSkip, run: func(b *testing.B) time.Duration { return stageRun(b, true) }},
		{name: "supervisor-start", run: func(b *testing.B) time.Duration {
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
		{name: "supervisor-run-nocgroup", run: supRun(&supPlain)},
		{name: "supervisor-run", run: supRun(&supCg)},
		{name: "mcp-process_run", run: func(b *testing.B) time.Duration {
			return timed(func() {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": truePath}})
				if err != nil || res.IsError {
					b.Fatalf("process_run: %v %+v", err, res)
				}
			})
		}},
		// bubblewrap, the reference, and its namespaces' share
		{name: "bwrap", skip: bwSkip, run: bwrapRun(bwrapArgs)},
		{name: "bwrap-share-net", skip: bwSkip, run: bwrapRun(bwrapNoNetArgs)},
		{name: "bwrap-mount-only", skip: bwSkip, run: bwrapRun(bwrapMountOnlyArgs)},
		// the full profile
		{name: "isolated-run", skip: isoSkip, vsBwrap: true, run: supRun(&supIso)},
		{name: "isolated-ro-run", skip: isoSkip, vsBwrap: true, run: supRun(&supIsoRO)},
		{name: "isolated-stage-run", skip: isoSkip, vsBwrap: true, run: func(b *testing.B) time.Duration { return launch(b, isoLauncher, sp) }},
		{name: "isolated-stage-cold", skip: isoSkip, vsBwrap: true, over: "stage-cold", run: func(b *testing.B) time.Duration { return launch(b, isoColdLauncher, sp) }},
		// every namespace but user (bench/compare's profile): a Go stage, the zygote, the server's path
		{name: "isolated-nouser-stage-run", skip: isoSkip, vsBwrap: true, run: func(b *testing.B) time.Duration { return launch(b, isoNULauncher, sp) }},
		{name: "zygote-isolated-run", skip: isoSkip, vsBwrap: true, over: "isolated-nouser-stage-run", run: func(b *testing.B) time.Duration { return launch(b, zygIsoLauncher, sp) }},
		{name: "isolated-nouser-run", skip: isoSkip, vsBwrap: true, run: supRun(&supIsoNU)},
		{name: "stage-cold", run: func(b *testing.B) time.Duration { return launch(b, coldLauncher, sp) }},
	}
	for i, n := range oneNamespace {
		variants = append(variants,
			variant{name: "ns-" + n.name, skip: isoSkip, over: "stage-run",
				run: func(b *testing.B) time.Duration { return launch(b, nsWarm[i], sp) }},
			variant{name: "ns-" + n.name + "-cold", skip: isoSkip, over: "stage-cold",
				run: func(b *testing.B) time.Duration { return launch(b, nsCold[i], sp) }})
	}
	for _, v := range variants {
		if v.skip != "" {
			b.Logf("%s skipped: %s", v.name, v.skip)
		}
	}
	variants = slices.DeleteFunc(variants, func(v variant) bool { return v.skip != "" })

	// The isolated supervisors must apply what they are timed for.
	for _, s := range []*supervisor.Supervisor{supIso, supIsoRO} {
		if s != nil {
			verifyIsolated(b, s, isoCfg, "user")
		}
	}
	if supIsoNU != nil {
		verifyIsolated(b, supIsoNU, nuCfg)
	}

	// Warm up every path once (page cache, pools, first cgroup).
	for _, v := range variants {
		time.Sleep(pace)
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
	report(b, variants, samples)
}

// verifyIsolated starts a sleep through s and checks, from the host, that
// it runs in namespaces of its own (every one), under a seccomp filter and
// in a cgroup other than ours. (Landlock leaves no trace in /proc; the
// sandbox package's tests show it is enforced.)
func verifyIsolated(b *testing.B, s *supervisor.Supervisor, cfg *config.Config, extraNS ...string) {
	c := cfg.Clone()
	c.AllowedExecutables = append(c.AllowedExecutables, "/bin/sleep")
	pol, err := policy.New(c)
	if err != nil {
		b.Fatal(err)
	}
	d := pol.Evaluate(policy.Request{Executable: "/bin/sleep", Args: []string{"30"}}, time.Now())
	if !d.Allow {
		b.Fatalf("policy refuses /bin/sleep: %v", d.Err)
	}
	d.Spec.Home = "" // as in spec

	st, err := s.Start("bench", d.Spec, supervisor.StartOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Terminate("bench", st.Pid, true, 5*time.Second, "bench")
	proc := fmt.Sprintf("/proc/%d/", st.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for { // the target execs after Start returns; seccomp is installed just before
		status, err := os.ReadFile(proc + "status")
		if err != nil {
			b.Fatalf("isolated sleep: %v", err)
		}
		if strings.Contains(string(status), "\nSeccomp:\t2\n") {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("isolated sleep runs without a seccomp filter:\n%s", status)
		}
		time.Sleep(time.Millisecond)
	}
	for _, ns := range append([]string{"pid", "mnt", "net", "uts", "ipc"}, extraNS...) {
		theirs, err1 := os.Readlink(proc + "ns/" + ns)
		ours, err2 := os.Readlink("/proc/self/ns/" + ns)
		if err1 != nil || err2 != nil || theirs == ours {
			b.Fatalf("isolated sleep: %s namespace %q (%v), ours %q (%v)", ns, theirs, err1, ours, err2)
		}
	}
	theirs, err1 := os.ReadFile(proc + "cgroup")
	ours, err2 := os.ReadFile("/proc/self/cgroup")
	if err1 != nil || err2 != nil || string(theirs) == string(ours) {
		b.Fatalf("isolated sleep: in our cgroups (%v, %v):\n%s", err1, err2, theirs)
	}
}

// report writes each variant's median and ratios, and the paired extras.
// "-start" variants (until the child runs) compare with bare-start, the
// others (until the child has exited) with bare-exec.
func report(b *testing.B, variants []variant, samples [][]time.Duration) {
	index := map[string]int{}
	for j, v := range variants {
		index[v.name] = j
	}
	med := func(name string) time.Duration {
		if j, ok := index[name]; ok {
			return median(samples[j])
		}
		return 0
	}
	bareRun, bareStart, bwrap := med("bare-exec"), med("bare-start"), med("bwrap")
	for j, v := range variants {
		m := median(samples[j])
		b.ReportMetric(float64(m.Nanoseconds()), v.name+"-median-ns")
		base := bareRun
		if strings.HasSuffix(v.name, "-start") {
			base = bareStart
		}
		if v.name != "bare-exec" && v.name != "bare-start" && base > 0 {
			b.ReportMetric(float64(m)/float64(base), v.name+"-x-bare")
		}
		if v.vsBwrap && bwrap > 0 {
			b.ReportMetric(float64(m)/float64(bwrap), v.name+"-x-bwrap")
		}
		if k, ok := index[v.over]; ok {
			b.ReportMetric(float64(pairedDiff(samples[j], samples[k]).Nanoseconds()), v.name+"-extra-ns")
		}
	}
	// bubblewrap's own shares: its network namespace, and every namespace
	// but the mount namespace it always creates.
	if j, ok := index["bwrap"]; ok {
		b.ReportMetric(float64(pairedDiff(samples[j], samples[index["bwrap-share-net"]]).Nanoseconds()), "bwrap-net-extra-ns")
		b.ReportMetric(float64(pairedDiff(samples[j], samples[index["bwrap-mount-only"]]).Nanoseconds()), "bwrap-namespaces-extra-ns")
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

// pairedDiff is the median of a[i]-b[i]: both measured in iteration i, so
// a slow phase of the machine cancels out.
func pairedDiff(a, b []time.Duration) time.Duration {
	n := min(len(a), len(b))
	d := make([]time.Duration, n)
	for i := range n {
		d[i] = a[i] - b[i]
	}
	return median(d)
}

// TestProfiles checks that the benchmark times what its rows are named
// for: the full profile (every namespace, seccomp strict, Landlock;
// read-only only in the -ro row), one namespace per ns-* row, and the
// issue's exact bubblewrap command line.
func TestProfiles(t *testing.T) {
	cfg := benchConfigT(t)
	const ident = "identity (uid 65534, gid 65534 inside the user namespace, no supplementary groups)"
	const scope = "landlock scope (signals, abstract unix sockets, ptrace)"
	const base = "seccomp baseline (no AF_UNIX, AF_VSOCK sockets, no io_uring)"
	const private = "private view (own /tmp, /var/tmp, /run, /dev/shm; credentials and hiddenPaths hidden)"
	const hide = "hidden paths unreadable by name, also when replaced on the host (Landlock)"
	for _, tc := range []struct {
		name     string
		readOnly bool
		want     []string
	}{
		{"isolated-run", false, []string{"namespaces (user, pid, mount, network, uts, ipc)", private, hide, ident, "landlock", scope, base, "seccomp (strict)"}},
		{"isolated-ro-run", true, []string{"namespaces (user, pid, mount, network, uts, ipc)", "read-only filesystem", private, hide, ident, "landlock", scope, base, "seccomp (strict)"}},
	} {
		iso, err := sandbox.IsolationFor(isolatedConfig(cfg, tc.readOnly))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := iso.Layers(); !slices.Equal(got, tc.want) {
			t.Errorf("%s layers = %q, want %q", tc.name, got, tc.want)
		}
	}
	if cfg.EnableNamespaces || cfg.EnableSeccomp || cfg.Landlock || cfg.ReadOnlyFilesystem {
		t.Error("isolatedConfig changed the base configuration the other rows use")
	}
	seen := config.Namespaces{}
	for _, n := range oneNamespace {
		iso := sandbox.Isolation{Namespaces: n.ns}
		layers := iso.Layers()
		if len(layers) != 1 || !strings.HasPrefix(layers[0], "namespaces (") {
			t.Errorf("ns-%s layers = %q", n.name, layers)
		}
		seen.PID = seen.PID || n.ns.PID
		seen.Network = seen.Network || n.ns.Network
		seen.Mount = seen.Mount || n.ns.Mount
		seen.UTS = seen.UTS || n.ns.UTS
		seen.IPC = seen.IPC || n.ns.IPC
		seen.User = seen.User || n.ns.User
	}
	if seen != allNamespaces {
		t.Errorf("the ns-* rows cover %+v, not every namespace", seen)
	}
	if got, want := "bwrap "+strings.Join(bwrapArgs, " "), "bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc /bin/true"; got != want {
		t.Errorf("bwrap command line = %q, want the issue's %q", got, want)
	}
}

// BenchmarkSeccompBaseline times the seccomp baseline of SPEC 7.1a alone:
// warm launches of /bin/true through the init stage without a filter,
// with the baseline, and with the baseline without its AF_UNIX rule
// (allowUnixSockets), round robin in the same run. It reports each median
// and the ratio and median per-iteration difference to the launch without
// a filter. bench/run.sh's stage-seccomp-run row is the same launch among
// all the others; this one runs only these three, so it needs fewer
// iterations to settle: go test -run '^$' -bench SeccompBaseline -benchtime 400x ./bench/
func BenchmarkSeccompBaseline(b *testing.B) {
	cfg := benchConfigT(b)
	pol, err := policy.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sp := spec(b, pol)
	names := []string{"none", "baseline", "baseline-unix"}
	launchers := make([]*sandbox.Launcher, len(names))
	for i, allowUnix := range []bool{false, false, true} {
		var iso sandbox.Isolation
		if i > 0 {
			if iso.Seccomp, err = seccomp.Program(seccomp.Baseline, allowUnix); err != nil {
				b.Fatal(err)
			}
		}
		launchers[i] = sandbox.NewLauncher(sandbox.LauncherOptions{Isolation: iso})
		defer launchers[i].Close()
	}
	for _, l := range launchers { // warm up
		launch(b, l, sp)
	}
	samples := make([][]time.Duration, len(names))
	b.ResetTimer()
	for range b.N {
		for i, l := range launchers {
			samples[i] = append(samples[i], launch(b, l, sp))
		}
	}
	b.StopTimer()
	for i, n := range names {
		b.ReportMetric(float64(median(samples[i]).Nanoseconds()), n+"-median-ns")
		if i > 0 {
			b.ReportMetric(float64(median(samples[i]))/float64(median(samples[0])), n+"-x-none")
			b.ReportMetric(float64(pairedDiff(samples[i], samples[0]).Nanoseconds()), n+"-extra-ns")
		}
	}
}
