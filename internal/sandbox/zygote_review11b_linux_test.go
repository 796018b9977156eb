//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// Review (session 11, second review) of the zygote's plan arena, its wait
// for the last child (awaitQuiet, a pidfd) and its child's join after the
// mount steps.

// A launch the zygote plans up to its executable scope and then hands back
// (an executable beneath the private /tmp: errFallback, the launch runs on
// a stage) leaves nothing of itself in the zygote's memory: its argument
// and environment strings were copied into the plan's buffers (vectors)
// before the fallback, and the plan is never forked, so never wiped by
// serveLaunch or reclaimVM: the planner wipes them itself.
func TestZygoteFallbackLeavesNothingInMemory(t *testing.T) {
	needZygote(t)
	needRoot(t) // reads the zygote's memory
	spec := specFor(t, "true")
	cfg := config.BuiltinDefault(hostDir(t))
	cfg.ExecutablePolicyScope, cfg.AllowedExecutables = config.ScopeTree, []string{spec.Path}
	iso, err := IsolationFor(cfg)
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	iso.ExecPaths = append(iso.ExecPaths, "/tmp/mcp-fallback-absent/true")
	l := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Isolation: iso})
	defer l.Close()
	tag := strconv.FormatInt(time.Now().UnixNano(), 36)
	argSecret, envSecret := "fallback-arg-"+tag, "fallback-env-"+tag
	spec.Argv = append(spec.Argv, argSecret)
	spec.Env = append(spec.Env, "ZYGOTE_FALLBACK_SECRET="+envSecret)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if p.forked {
		p.Abort()
		t.Fatal("the zygote planned a launch whose executable lies beneath the private /tmp")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("target: %v", st)
	}
	z := l.zygotePid()
	if z == 0 {
		t.Fatal("no zygote running")
	}
	waitZygoteAwaitsLaunch(t, z)
	for _, s := range []string{argSecret, envSecret} {
		found, err := memContains(z, []byte(s))
		if err != nil {
			t.Fatalf("cannot read the zygote's memory: %v", err)
		}
		if found {
			t.Errorf("%q of the launch the zygote handed back is in the zygote's memory", s)
		}
	}
}

// pidfdsOf lists pid's descriptors that are pidfds.
func pidfdsOf(t *testing.T, pid int) []string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && strings.Contains(l, "pidfd") {
			out = append(out, e.Name()+" -> "+l)
		}
	}
	return out
}
