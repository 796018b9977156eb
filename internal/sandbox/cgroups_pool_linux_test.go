//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"golang.org/x/sys/unix"
)

// pooledGroups waits until l's pool of fresh cgroups is full and returns
// its groups, oldest first.
func pooledGroups(t *testing.T, l *Launcher) []*cgroup.Group {
	t.Helper()
	if l.cgroups.pool == nil {
		t.Fatal("the launcher has no pool of cgroups")
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		if g := l.cgroups.pool.pooled(); len(g) >= groupPoolSize {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("the pool of cgroups holds %d groups, want %d", len(l.cgroups.pool.pooled()), groupPoolSize)
		}
	}
}

// groupFiles reads every readable file of g's directories, keyed by
// hierarchy (its parent group) and file name.
func groupFiles(t *testing.T, g *cgroup.Group) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range g.Paths() {
		ents, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			if b, err := os.ReadFile(filepath.Join(d, e.Name())); err == nil {
				out[filepath.Dir(d)+" "+e.Name()] = string(b)
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("nothing readable in %v", g.Paths())
	}
	return out
}

// sameFiles fails unless a and b (groupFiles) are equal, but for the files
// skip names.
func sameFiles(t *testing.T, what string, a, b map[string]string, skip ...string) {
	t.Helper()
	for k, v := range a {
		if slices.Contains(skip, k[strings.LastIndexByte(k, ' ')+1:]) {
			continue
		}
		if w, ok := b[k]; !ok || w != v {
			t.Errorf("%s: %s reads %q, in a new group %q", what, k, v, w)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			t.Errorf("%s: %s is missing", what, k)
		}
	}
}

// A pooled group is exactly a new one made with the launch's limits:
// empty, in the same hierarchies, every control file (limits and counters
// alike) as a group made with the same limits this moment reads it; with
// no limits as without. A launch asking for other limits takes none.
func TestPooledCgroupIsFresh(t *testing.T) {
	m := cgroupTestManager(t)
	lim := config.ResourceLimits{MaxMemoryMB: 64, MaxProcesses: 7, MaxCpuPercent: 50}
	cl := cgroupLimits(m.Support(), lim)
	if cl == (cgroup.Limits{}) {
		t.Skip("no cgroup limit is enforced here")
	}
	for _, tc := range []struct {
		name string
		lim  config.ResourceLimits
	}{{"the default profile's limits", lim}, {"no limits", config.ResourceLimits{}}} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLauncher(LauncherOptions{Cgroups: m, PoolSize: -1, GroupLimits: tc.lim})
			defer l.Close()
			pooled := pooledGroups(t, l)
			time.Sleep(50 * time.Millisecond) // pooled a while: nothing changes in them meanwhile
			want := cgroupLimits(m.Support(), tc.lim)
			other := cgroupLimits(m.Support(), config.ResourceLimits{MaxMemoryMB: 32, MaxProcesses: 7, MaxCpuPercent: 50})
			if g, procs := l.cgroups.pool.take(other); g != nil || procs != nil {
				t.Fatalf("a launch asking for other limits took pooled group %v (files %v)", g, procs)
			}
			for i, p := range pooled {
				if pop, err := p.Populated(); err != nil || pop {
					t.Fatalf("pooled group %s: populated %v (%v)", p.Name(), pop, err)
				}
				if !strings.HasPrefix(p.Name(), fmt.Sprintf("p-%d-", l.cgroups.id)) {
					t.Fatalf("pooled group named %s, want a launch group's name p-%d-N", p.Name(), l.cgroups.id)
				}
				g, procs := l.cgroups.pool.take(want)
				if g != p {
					t.Fatalf("take %d: %v, want the oldest pooled group %s", i, g, p.Name())
				}
				closeFiles(procs)
				fresh, err := l.cgroups.newGroup("p", want)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(trimNames(g.Paths()), trimNames(fresh.Paths())) {
					t.Fatalf("hierarchies: pooled %v, new %v", g.Paths(), fresh.Paths())
				}
				// cpu.stat's nr_periods counts the quota's period timer,
				// which runs for a while after a quota is written: a
				// clock, not state.
				files := groupFiles(t, g)
				sameFiles(t, "pooled "+g.Name(), files, groupFiles(t, fresh), "cpu.stat")
				// The limits are there (not only equal to a group that
				// could have lost them the same way).
				if tc.lim.MaxProcesses > 0 && m.Support().Pids && !hasFile(files, "pids.max", "7\n") {
					t.Errorf("pooled %s: no pids.max of 7", g.Name())
				}
				if tc.lim.MaxProcesses == 0 && hasFile(files, "pids.max", "7\n") {
					t.Errorf("pooled %s without limits has a pids.max of 7", g.Name())
				}
				dropGroup(fresh)
				dropGroup(g)
			}
		})
	}
}

// The pool opens each group's cgroup.procs files as it makes it: a take
// hands over exactly the files ProcsFiles opens (each hierarchy's
// cgroup.procs of that group, in the group's order, write-only and
// close-on-exec), and the files of the groups still pooled are closed with
// the launcher.
func TestPooledGroupComesWithItsProcsFiles(t *testing.T) {
	m := cgroupTestManager(t)
	lim := config.ResourceLimits{MaxProcesses: 7}
	fdsBefore := openFDCount(t)
	l := NewLauncher(LauncherOptions{Cgroups: m, PoolSize: -1, GroupLimits: lim})
	pooled := pooledGroups(t, l)
	g, procs := l.cgroups.pool.take(cgroupLimits(m.Support(), lim))
	if g != pooled[0] {
		t.Fatalf("took %v, want the oldest pooled group %s", g, pooled[0].Name())
	}
	paths := g.Paths()
	if len(procs) != len(paths) {
		t.Fatalf("%d cgroup.procs files for %d hierarchies (%v)", len(procs), len(paths), paths)
	}
	for i, f := range procs {
		link, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
		if err != nil || link != paths[i]+"/cgroup.procs" {
			t.Errorf("file %d is %q (%v), want %s/cgroup.procs", i, link, err, paths[i])
		}
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		if err != nil || fl&unix.O_ACCMODE != unix.O_WRONLY {
			t.Errorf("file %d: flags %#x (%v), want write-only", i, fl, err)
		}
		if fd, err := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0); err != nil || fd&unix.FD_CLOEXEC == 0 {
			t.Errorf("file %d: not close-on-exec (%#x, %v)", i, fd, err)
		}
	}
	closeFiles(procs)
	dropGroup(g)
	l.Close()
	if n := openFDCount(t); n > fdsBefore {
		t.Fatalf("%d descriptors open after the launcher closed, %d before: the pooled groups' files leak", n, fdsBefore)
	}
	// Launches that take pooled groups, through the zygote (which sends the
	// files to its child) and through a Go stage (which has no use for
	// them): none of the files stays open.
	spec := specFor(t, "true")
	spec.Limits = lim
	kinds := []StageKind{StageGo}
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		kinds = append(kinds, StageZygote)
	}
	for _, kind := range kinds {
		l := NewLauncher(LauncherOptions{Stage: kind, Cgroups: m, PoolSize: -1, GroupLimits: lim})
		pooledGroups(t, l)
		for i := 0; i < 2*groupPoolSize; i++ {
			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			p.Wait()
			p.Cgroup().Remove()
		}
		l.Close()
		if n := openFDCount(t); n > fdsBefore {
			t.Fatalf("stage %v: %d descriptors open after %d launches and the launcher's close, %d before", kind, n, 2*groupPoolSize, fdsBefore)
		}
	}
}

// openFDCount is the number of this process's open descriptors. (No
// garbage collection first: it would close a leaked os.File and hide the
// leak. One run earlier may close some, so callers check for more, not
// for a different number.)
func openFDCount(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents) - 1 // the directory's own, while it is read
}

// hasFile says whether some hierarchy's file name reads v (groupFiles).
func hasFile(files map[string]string, name, v string) bool {
	for k, w := range files {
		if strings.HasSuffix(k, " "+name) && w == v {
			return true
		}
	}
	return false
}

// trimNames drops each path's last element (the group's own name).
func trimNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Dir(p)
	}
	return out
}

// A launch whose child is not a warm stage (one the zygote forks, a cold
// stage) runs in a pooled group: the oldest, with the launch's limits
// written and the child alone in it; the group is never pooled again
// (a refill makes a new one), Abort removes it, and the pool is refilled.
func TestLaunchTakesPooledCgroup(t *testing.T) {
	m := cgroupTestManager(t)
	if !m.Support().Pids {
		t.Skip("no pids controller: " + m.Support().Reasons["pids"])
	}
	for _, tc := range []struct {
		name   string
		o      LauncherOptions
		forked bool
	}{
		{"forked", LauncherOptions{Stage: StageZygote, PoolSize: -1}, true},
		{"cold stage", LauncherOptions{Stage: StageGo, PoolSize: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.forked && runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64" {
				t.Skip("no zygote on " + runtime.GOARCH)
			}
			spec := specFor(t, "true")
			spec.Limits.MaxProcesses = 7
			tc.o.Cgroups, tc.o.GroupLimits = m, spec.Limits
			l := NewLauncher(tc.o)
			defer l.Close()
			used := map[string]bool{}
			for round := 0; round < 3; round++ {
				pooled := pooledGroups(t, l)
				for _, g := range pooled {
					if used[g.Name()] {
						t.Fatalf("round %d: group %s is pooled again after a launch", round, g.Name())
					}
				}
				p, err := l.Start(spec, Stdio{})
				if err != nil {
					t.Fatal(err)
				}
				if p.forked != tc.forked {
					t.Fatalf("forked %v, want %v", p.forked, tc.forked)
				}
				g := p.Cgroup()
				if g != pooled[0] {
					t.Fatalf("round %d: the launch runs in %v, want the oldest pooled group %s", round, g, pooled[0].Name())
				}
				used[g.Name()] = true
				want := []int{p.Pid}
				if k := p.keeps.keeper; k != nil {
					// A cold stage starts its keeper after it joined the
					// group (so it did before the pool: a warm stage's
					// keeper is started before, in the server's group).
					want = append(want, k.Pid)
				}
				procs, err := g.Procs()
				slices.Sort(procs)
				slices.Sort(want)
				if err != nil || !slices.Equal(procs, want) {
					t.Fatalf("round %d: group holds %v (%v), want only the child %v", round, procs, err, want)
				}
				for _, d := range g.Paths() {
					if b, err := os.ReadFile(d + "/pids.max"); err == nil && string(b) != "7\n" {
						t.Fatalf("round %d: pids.max = %q before Release, want 7", round, b)
					}
				}
				if round == 2 {
					p.Abort()
					for _, d := range g.Paths() {
						if _, err := os.Stat(d); !os.IsNotExist(err) {
							t.Fatalf("%s left after Abort (%v)", d, err)
						}
					}
					continue
				}
				if err := p.Release(); err != nil {
					t.Fatal(err)
				}
				if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
					t.Fatalf("round %d: %v", round, st)
				}
				g.Remove() // the caller's, once the process is reaped
			}
		})
	}
}

// A plain launcher has no pool: its launches make their group on their
// path.
func TestPlainLauncherHasNoCgroupPool(t *testing.T) {
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Cgroups: m, Plain: true})
	defer l.Close()
	if l.cgroups.pool != nil {
		t.Fatal("a plain launcher keeps a pool of cgroups")
	}
	p, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if p.Cgroup() == nil {
		t.Fatal("no cgroup for the launch")
	}
}

// Close ends the pool's goroutine and removes its groups: no group of the
// launcher is left in any hierarchy (pooled, a warm stage's, a launch's
// that was aborted).
func TestCloseRemovesPooledCgroups(t *testing.T) {
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Cgroups: m})
	pooledGroups(t, l)
	idlePids(t, l)
	p, err := l.Start(specFor(t, "true"), Stdio{})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	p.Abort()
	pooledGroups(t, l) // refilled
	mine := func() []string {
		var left []string
		for _, d := range groupDirs(m) {
			name := filepath.Base(d)
			if strings.HasPrefix(name, fmt.Sprintf("p-%d-", l.cgroups.id)) || strings.HasPrefix(name, fmt.Sprintf("stage-%d-", l.cgroups.id)) {
				left = append(left, d)
			}
		}
		return left
	}
	if len(mine()) == 0 {
		t.Fatal("no group of the launcher found before Close: the check below would prove nothing")
	}
	l.Close()
	if left := mine(); len(left) > 0 {
		t.Fatalf("groups left after Close: %v", left)
	}
	select {
	case <-l.cgroups.pool.done:
	default:
		t.Fatal("the pool's goroutine still runs after Close")
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "(*groupPool).run") {
		t.Fatalf("a pool goroutine is left:\n%s", st)
	}
	l.Close() // idempotent
}
