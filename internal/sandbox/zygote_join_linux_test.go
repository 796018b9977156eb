//go:build linux

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// A zygote's child joins its launch's cgroup itself (stage planJoin), in
// every hierarchy, before it says ready: before Release it is in the
// group's cgroup.procs everywhere, and its target runs there. A join the
// kernel refuses (the group was removed under it) fails the launch with
// the resource limits' LAYER_UNAVAILABLE, and the target never runs; the
// next launch is served.
func TestZygoteChildJoinsItsGroup(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	for _, pooled := range []bool{true, false} {
		t.Run("pooled="+strconv.FormatBool(pooled), func(t *testing.T) {
			spec := specFor(t, "true")
			l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m, GroupLimits: spec.Limits})
			if !pooled { // limits of its own: a group made on the launch's path
				spec.Limits.MaxProcesses = 9
			}
			defer l.Close()

			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatal(err)
			}
			if !p.forked {
				t.Fatal("not forked by the zygote")
			}
			g := p.Cgroup()
			if g == nil || len(g.Paths()) == 0 {
				t.Fatalf("no group: %v", g)
			}
			for _, d := range g.Paths() {
				b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(strings.Fields(string(b)), strconv.Itoa(p.Pid)) {
					t.Fatalf("before Release, %s/cgroup.procs holds %q: not the child %d", d, b, p.Pid)
				}
			}
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("target: %v", st)
			}
			g.Remove()

			// The join refused: the group is removed once its files are open.
			dir := t.TempDir()
			mark := filepath.Join(dir, "ran")
			touch := specFor(t, "touch", mark)
			touch.Dir, touch.Limits = dir, spec.Limits
			var removed []string
			l.beforeAsk = func(g *cgroup.Group) {
				removed = g.Paths()
				if err := g.Remove(); err != nil {
					t.Errorf("remove the group: %v", err)
				}
			}
			p, err = l.Start(touch, Stdio{})
			l.beforeAsk = nil
			if err == nil {
				p.Release()
				p.Wait()
				t.Fatal("the launch started in a removed group")
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.LayerUnavailable || e.Layer != "resource-limits" || !strings.Contains(e.Message, "could not join") {
				t.Fatalf("err %v, want the resource limits' LAYER_UNAVAILABLE for the join", err)
			}
			t.Log(e.Message)
			if len(removed) == 0 {
				t.Fatal("the launch had no group")
			}
			if _, err := os.Stat(mark); !os.IsNotExist(err) {
				t.Fatalf("the target ran (%v)", err)
			}
			for _, d := range removed {
				if _, err := os.Stat(d); !os.IsNotExist(err) {
					t.Fatalf("%s left (%v)", d, err)
				}
			}
			if served := l.zygoteServed(); served != 2 {
				t.Fatalf("the zygote served %d launches, want 2", served)
			}
			p, err = l.Start(spec, Stdio{})
			if err != nil {
				t.Fatalf("the next launch: %v", err)
			}
			p.Release()
			if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("next target: %v", st)
			}
			p.Cgroup().Remove()
		})
	}
}

// A launch the zygote does not plan (here: its executable scope names a
// path beneath the private /tmp, which the child's view replaces) goes to
// a Go stage, with its cgroup placed by the launcher: the config the stage
// gets announces no cgroup files (a stage refuses one that does).
func TestZygoteFallbackWithCgroupsUsesAStage(t *testing.T) {
	needZygote(t)
	m := cgroupTestManager(t)
	spec := specFor(t, "true")
	iso := fallbackIsolation(t, spec)
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso, Cgroups: m, GroupLimits: spec.Limits})
	defer l.Close()
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if p.forked {
		p.Abort()
		t.Fatal("the zygote planned a launch whose executable lies beneath the private /tmp")
	}
	g := p.Cgroup()
	procs, err := g.Procs()
	if err != nil || !slices.Contains(procs, p.Pid) {
		p.Abort()
		t.Fatalf("the stage %d is not in its group: %v (%v)", p.Pid, procs, err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("target: %v", st)
	}
	g.Remove()
}

// fallbackIsolation is the development default with the tree's executable
// scope of spec's executable and a path beneath the private /tmp: the
// zygote hands every launch under it back to a stage (planExecScope).
func fallbackIsolation(t *testing.T, spec *policy.Spec) Isolation {
	t.Helper()
	cfg := config.BuiltinDefault(hostDir(t))
	cfg.ExecutablePolicyScope, cfg.AllowedExecutables = config.ScopeTree, []string{spec.Path}
	iso, err := IsolationFor(cfg)
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	iso.ExecPaths = append(iso.ExecPaths, "/tmp/mcp-fallback-absent/true")
	return iso
}
