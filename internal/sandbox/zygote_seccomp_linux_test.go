//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
)

func needSeccomp(t *testing.T) {
	t.Helper()
	if ok, why := seccomp.Available(); !ok {
		t.Skipf("no seccomp filters on this host: %s", why)
	}
}

// baselineIsolation is the development defaults' isolation (its seccomp
// program the baseline alone) with a host directory to work in; it skips
// where the zygote, seccomp or the defaults are not available.
func baselineIsolation(t *testing.T) (string, Isolation) {
	t.Helper()
	needZygote(t)
	needSeccomp(t)
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	return dir, iso
}

// zygoteStatus is the zygote's /proc status and each of its threads'.
func zygoteStatus(t *testing.T, l *Launcher) (string, []string) {
	t.Helper()
	z := l.zygotePid()
	if z == 0 {
		t.Fatal("no zygote")
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", z))
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", z))
	if err != nil || len(tasks) == 0 {
		t.Fatalf("the zygote's threads: %v", err)
	}
	var threads []string
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		threads = append(threads, string(b))
	}
	return string(status), threads
}

// Under the baseline alone, the zygote carries the filter, on every one of
// its threads, and each child has it from the fork: the target runs under
// exactly one filter (the child did not install a second), with
// no_new_privs, and the baseline refuses what it refuses (a unix socket).
// Under a profile, the zygote carries none and the child installs the
// profile's program, its one filter, as through a stage.
func TestZygoteChildInheritsTheBaseline(t *testing.T) {
	dir, base := baselineIsolation(t)
	if base.SeccompProfile != seccomp.Baseline || len(base.Seccomp) == 0 {
		t.Fatalf("the development defaults' seccomp: profile %q, %d bytes: want the baseline", base.SeccompProfile, len(base.Seccomp))
	}
	sc := config.BuiltinDefault(dir)
	sc.EnableSeccomp, sc.SeccompProfile = true, seccomp.Strict
	strict, err := IsolationFor(sc)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		iso           Isolation
		zygoteFilters string // the zygote's Seccomp_filters
	}{{"baseline", base, "1"}, {"strict", strict, "0"}} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: tc.iso})
			defer l.Close()
			spec := specFor(t, "cat", "/proc/self/status")
			spec.Dir = dir
			out, st := runAll(t, l, spec)
			exitOK(t, out, st)
			for f, want := range map[string]string{"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "1"} {
				if got := statusField(t, out, f); got != want {
					t.Errorf("the target's %s = %s, want %s", f, got, want)
				}
			}
			status, threads := zygoteStatus(t, l)
			if got := statusField(t, status, "Seccomp_filters"); got != tc.zygoteFilters {
				t.Errorf("the zygote's Seccomp_filters = %s, want %s", got, tc.zygoteFilters)
			}
			if tc.zygoteFilters == "1" {
				for _, th := range threads {
					if statusField(t, th, "Seccomp") != "2" || statusField(t, th, "NoNewPrivs") != "1" {
						t.Errorf("a thread of the zygote is not filtered: %s", th)
					}
				}
			}
			// Launched after the first: the zygote's threads made since
			// have the filter too, and so does the next child.
			spec = py(t, "import socket\ntry:\n    socket.socket(socket.AF_UNIX)\n    print('created')\nexcept PermissionError:\n    print('refused')")
			spec.Dir = dir
			out, st = runAll(t, l, spec)
			exitOK(t, out, st)
			if strings.TrimSpace(out) != "refused" {
				t.Errorf("socket(AF_UNIX) in a forked target: %q, want refused", out)
			}
		})
	}
}

// A zygote whose kernel refuses its filter runs without it, and the child
// installs the launch's program itself: refused there too, the launch fails
// on the seccomp layer. Nothing runs without the filter it was to have.
func TestZygoteRefusedFilterFailsClosed(t *testing.T) {
	dir, iso := baselineIsolation(t)
	// One instruction the kernel refuses (an unknown opcode), as the
	// baseline: handed to the zygote, then planned by the child.
	iso.Seccomp = []byte{0xff, 0xff, 0, 0, 0, 0, 0, 0}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	defer l.Close()
	marker := filepath.Join(dir, "ran")
	spec := specFor(t, "touch", marker)
	spec.Dir = dir
	p, err := l.Start(spec, Stdio{})
	if err == nil {
		p.Release()
		p.Wait()
		t.Fatal("a launch under a filter the kernel refuses started")
	}
	if e := errcode.As(err); e.Layer != string(layers.Seccomp) {
		t.Errorf("error %v: want the seccomp layer's", err)
	}
	if l.zygotePid() != 0 {
		status, _ := zygoteStatus(t, l)
		if got := statusField(t, status, "Seccomp_filters"); got != "0" {
			t.Errorf("the zygote has %s filters after the kernel refused its program", got)
		}
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the target ran: %v", err)
	}
}

// Every way a zygote's child is made inherits the baseline: forked with
// the zygote's memory shared (the usual launch) or copied (a launch with
// more than vmMaxExecStrings of arguments and environment), and, for a
// root server, cloned into PID, network, UTS and IPC namespaces of its own
// with the read-only filesystem, where the loopback still works and a
// unix socket is still refused.
func TestZygoteEveryChildInheritsTheBaseline(t *testing.T) {
	dir, base := baselineIsolation(t)
	full := base
	full.Namespaces = config.Namespaces{PID: true, Network: true, UTS: true, IPC: true, Mount: true}
	full.ReadOnly = true
	code := "import socket\n" +
		"s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); socket.create_connection(s.getsockname()); print('loopback')\n" +
		"try:\n    socket.socket(socket.AF_UNIX); print('unix socket')\nexcept PermissionError:\n    print('unix refused')\n" +
		"print(''.join(l for l in open('/proc/self/status') if l.startswith(('Seccomp', 'NoNewPrivs'))))"
	for _, tc := range []struct {
		name string
		iso  Isolation
		root bool
	}{{"default", base, false}, {"namespaces", full, true}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.root {
				needRoot(t)
			}
			l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: tc.iso})
			defer l.Close()
			for _, big := range []bool{false, true} {
				spec := py(t, code)
				spec.Dir = dir
				if big {
					spec.Env = append(spec.Env, "BIG="+strings.Repeat("x", 70<<10)) // past vmMaxExecStrings: a copy, not CLONE_VM
				}
				served := l.zygoteServed()
				out, st := runAll(t, l, spec)
				exitOK(t, out, st)
				if l.zygoteServed() != served+1 {
					t.Fatalf("big %v: the launch was not forked by the zygote", big)
				}
				if !strings.Contains(out, "loopback") || !strings.Contains(out, "unix refused") {
					t.Errorf("big %v: %s", big, out)
				}
				for f, want := range map[string]string{"Seccomp": "2", "Seccomp_filters": "1", "NoNewPrivs": "1"} {
					if got := statusField(t, out, f); got != want {
						t.Errorf("big %v: the target's %s = %s, want %s", big, f, got, want)
					}
				}
			}
		})
	}
}
