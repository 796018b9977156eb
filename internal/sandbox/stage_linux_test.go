//go:build linux

package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
)

func python(t *testing.T) string {
	t.Helper()
	py, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	return py
}

// markerSpec is a target that creates a marker file when (and only if) it runs.
func markerSpec(t *testing.T) (*policy.Spec, string) {
	marker := filepath.Join(t.TempDir(), "ran")
	return specFor(t, "touch", marker), marker
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func wantErrCode[L ~string](t *testing.T, err error, code errcode.Code, layer L, msg ...string) *errcode.Error {
	t.Helper()
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != code || (layer != "" && e.Layer != string(layer)) {
		t.Fatalf("err = %v, want %s (%s)", err, code, layer)
	}
	for _, m := range msg {
		if !strings.Contains(e.Message+" "+e.Remedy, m) {
			t.Fatalf("err = %v, want it to mention %q", err, m)
		}
	}
	return e
}

// The target runs only after Release: the launch record and the cgroup
// join happen while it waits.
func TestGateHoldsTheTargetUntilRelease(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	spec, marker := markerSpec(t)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if exists(marker) {
		p.Abort()
		t.Fatal("the target ran before Release")
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("exit %v", st)
	}
	if !exists(marker) {
		t.Fatal("the target did not run after Release")
	}
	if err := p.Release(); err == nil {
		t.Fatal("a second Release succeeded")
	}
}

func TestAbortMeansTheTargetNeverRuns(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	spec, marker := markerSpec(t)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	p.Abort()
	if st := p.Wait(); st.Signal != syscall.SIGKILL {
		t.Fatalf("exit %v, want the stage killed", st)
	}
	wantErrCode(t, p.Release(), errcode.Internal, layer, "already released or aborted")
	time.Sleep(100 * time.Millisecond)
	if exists(marker) {
		t.Fatal("the target ran after Abort")
	}
}

func TestReleaseAfterTheStageDiedFails(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	for _, reap := range []bool{false, true} {
		t.Run("reaped="+strconv.FormatBool(reap), func(t *testing.T) {
			spec, marker := markerSpec(t)
			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			if reap {
				p.Wait()
			}
			wantErrCode(t, p.Release(), errcode.Internal, layer, "ended before the exec", "SIGKILL")
			if exists(marker) {
				t.Fatal("the target ran")
			}
		})
	}
}

// A step that cannot be applied fails the launch at Start, with the step,
// the limit and the remedy, and the target never runs.
func TestFailedStepRefusesTheLaunch(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	// Above fs.nr_open no process may raise RLIMIT_NOFILE, even with
	// CAP_SYS_RESOURCE.
	data, err := os.ReadFile("/proc/sys/fs/nr_open")
	if err != nil {
		t.Skip(err)
	}
	nrOpen, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	var hard syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &hard)

	spec, marker := markerSpec(t)
	spec.Limits = config.ResourceLimits{MaxFileDescriptors: nrOpen + 1}
	p, err := l.Start(spec, Stdio{})
	if p != nil {
		p.Abort()
		t.Fatal("Start returned a process for a launch whose step failed")
	}
	wantErrCode(t, err, errcode.LayerUnavailable, "resource-limits", "maxFileDescriptors "+strconv.FormatInt(nrOpen+1, 10),
		"hard limit "+strconv.FormatUint(hard.Max, 10), "lower maxFileDescriptors to at most "+strconv.FormatUint(hard.Max, 10))
	time.Sleep(100 * time.Millisecond)
	if exists(marker) {
		t.Fatal("the target ran although a step failed")
	}
}

// An exec that fails (here: the file is in no format the kernel runs) is
// reported by Release; nothing ran.
func TestFailedExecIsReportedByRelease(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	prog := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(prog, []byte("\x7fELF not really\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := l.Start(specFor(t, prog), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	wantErrCode(t, p.Release(), errcode.Internal, layer, "exec", "exec format error")
	if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 127 {
		t.Fatalf("stage exit %v, want 127", st)
	}
}

// The target holds 0, 1, 2 and nothing else of the stage or the server,
// a script's interpreter too (it opened the script by its path).
func TestTargetGetsOnlyItsDescriptors(t *testing.T) {
	py := python(t)
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	const list = "import os\nfds = []\nfor fd in range(1024):\n    try:\n        os.fstat(fd)\n        fds.append(fd)\n    except OSError:\n        pass\nprint(fds)\n"
	script := filepath.Join(t.TempDir(), "fds")
	if err := os.WriteFile(script, []byte("#!"+py+"\n"+list), 0o755); err != nil {
		t.Fatal(err)
	}
	// A descriptor the server holds without close-on-exec must not leak.
	leak, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer leak.Close()
	if _, _, err := syscall.Syscall(syscall.SYS_FCNTL, leak.Fd(), syscall.F_SETFD, 0); err != 0 {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec *policy.Spec
		want string
	}{
		{"binary", specFor(t, py, "-c", list), "[0, 1, 2]\n"},
		{"script", specFor(t, script), "[0, 1, 2]\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out, st := run(t, l, tc.spec); out != tc.want || st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("open descriptors %q (exit %v), want %q", out, st, tc.want)
			}
		})
	}
	// A zygote's child gets its group's cgroup.procs files (it joins the
	// group itself): none reaches the target.
	t.Run("zygote with cgroups", func(t *testing.T) {
		needZygote(t)
		m := cgroupTestManager(t)
		spec := specFor(t, py, "-c", list)
		lc := NewLauncher(LauncherOptions{Stage: StageZygote, PoolSize: -1, Cgroups: m, GroupLimits: spec.Limits})
		defer lc.Close()
		for i := 0; i < 2; i++ { // the second with the zygote's preparation made after the first
			if out, st := run(t, lc, spec); out != "[0, 1, 2]\n" || st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("open descriptors %q (exit %v), want [0, 1, 2]", out, st)
			}
		}
		if lc.zygoteServed() != 2 {
			t.Fatalf("the zygote served %d launches, want 2", lc.zygoteServed())
		}
	})
}

func TestRlimitsAreSet(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	limits := func(l config.ResourceLimits) *policy.Spec {
		s := specFor(t, "cat", "/proc/self/limits")
		s.Limits = l
		return s
	}
	var hard syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &hard)
	defaultSoft := min(hard.Max, noFileDefault)
	tests := []struct {
		name string
		spec *policy.Spec
		want []string // fields of /proc/self/limits lines
	}{
		{"maxFileDescriptors and maxCpuTime", limits(config.ResourceLimits{MaxFileDescriptors: 64, MaxCpuTime: 7}), []string{
			"Max cpu time 7 8 seconds", "Max open files 64 64 files", "Max core file size 0 0 bytes"}},
		{"unset: soft default, hard kept, no cpu limit", limits(config.ResourceLimits{}), []string{
			"Max cpu time unlimited unlimited seconds",
			"Max open files " + strconv.FormatUint(defaultSoft, 10) + " " + strconv.FormatUint(hard.Max, 10) + " files",
			"Max core file size 0 0 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, _ := run(t, l, tc.spec)
			var got []string
			for _, line := range strings.Split(out, "\n") {
				got = append(got, strings.Join(strings.Fields(line), " "))
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("no %q in\n%s", w, out)
				}
			}
		})
	}
}

// With RLIMIT_NOFILE 16 the program cannot hold more than 16 descriptors.
func TestMaxFileDescriptorsIsEnforced(t *testing.T) {
	py := python(t)
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	spec := specFor(t, py, "-c", `import errno, os
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print(errno.errorcode[e.errno], max(fds))
`)
	spec.Limits = config.ResourceLimits{MaxFileDescriptors: 16}
	out, _ := run(t, l, spec)
	if out != "EMFILE 15\n" {
		t.Fatalf("output %q, want EMFILE after fd 15", out)
	}
}

// With RLIMIT_CPU 1 a spinner gets SIGXCPU (or SIGKILL a second later).
func TestMaxCpuTimeKillsASpinner(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	spec := specFor(t, "sh", "-c", "while :; do :; done")
	spec.Limits = config.ResourceLimits{MaxCpuTime: 1}
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	done := make(chan ExitState, 1)
	go func() { done <- p.Wait() }()
	select {
	case st := <-done:
		if st.Signal != syscall.SIGXCPU && st.Signal != syscall.SIGKILL {
			t.Fatalf("exit %v, want SIGXCPU or SIGKILL", st)
		}
	case <-time.After(30 * time.Second):
		p.Abort()
		<-done
		t.Fatal("the spinner outlived its CPU time limit")
	}
}

// Close of the launcher kills a stage still waiting at its gate, and the
// target never runs.
func TestCloseKillsAStageAtItsGate(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	spec, marker := markerSpec(t)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	done := make(chan ExitState, 1)
	go func() { done <- p.Wait() }()
	select {
	case st := <-done:
		if st.Signal != syscall.SIGKILL {
			t.Fatalf("exit %v, want SIGKILL", st)
		}
	case <-time.After(10 * time.Second):
		p.Abort()
		t.Fatal("the stage survived its launcher thread")
	}
	if p.Release() == nil || exists(marker) {
		t.Fatal("the target ran after the launcher closed")
	}
}
