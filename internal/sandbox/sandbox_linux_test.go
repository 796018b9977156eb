//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// specFor builds a Spec the way the policy would: resolved path and identity.
func specFor(t testing.TB, exe string, args ...string) *policy.Spec {
	t.Helper()
	p, err := exec.LookPath(exe)
	if err != nil {
		t.Skipf("%s not found: %v", exe, err)
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	spec := &policy.Spec{Path: p, Dev: uint64(st.Dev), Ino: st.Ino,
		Argv: append([]string{filepath.Base(exe)}, args...), Env: []string{"A=1"}, Dir: t.TempDir()}
	markScript(spec)
	return spec
}

// markScript records a script's #! line as the policy does (the launcher
// refuses a file whose line is not the one checked).
func markScript(spec *policy.Spec) {
	b, _ := os.ReadFile(spec.Path)
	if len(b) > 256 {
		b = b[:256]
	}
	if line, _, _ := strings.Cut(string(b), "\n"); strings.HasPrefix(line, "#!") {
		spec.Script, spec.Shebang = true, line
		// Its interpreter, as the policy fills it (tests use an absolute
		// interpreter with at most one argument; a missing one leaves Run
		// without identity).
		words := strings.Fields(strings.TrimPrefix(line, "#!"))
		if len(words) == 0 {
			return
		}
		spec.Run = &policy.ScriptRun{Interpreter: words[0], Args: words, ScriptPath: spec.Path}
		if real, err := filepath.EvalSymlinks(words[0]); err == nil {
			spec.Run.Interpreter = real
		}
		var st syscall.Stat_t
		if syscall.Stat(spec.Run.Interpreter, &st) == nil {
			spec.Run.Dev, spec.Run.Ino = uint64(st.Dev), st.Ino
		}
	}
}

// run launches spec with a stdout pipe and returns its output and exit state.
func run(t testing.TB, l *Launcher, spec *policy.Spec) (string, ExitState) {
	t.Helper()
	out, st, err := tryRun(l, spec)
	if err != nil {
		t.Fatalf("launch: %v", err)
	}
	return out, st
}

func TestStartRunsExactlyTheSpec(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	script := filepath.Join(t.TempDir(), "show")
	if err := os.WriteFile(script, []byte("#!/bin/cat\nhello from the script\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	scriptSpec := specFor(t, script)
	dirSpec := specFor(t, "pwd")
	cmdline := specFor(t, "cat", "/proc/self/cmdline")
	cmdline.Argv[0] = "my-name"

	tests := []struct {
		name string
		spec *policy.Spec
		want func(out string) bool
	}{
		{"env is exactly the spec's", specFor(t, "env"), func(o string) bool { return o == "A=1\n" }},
		{"nil env is empty, not the server's", func() *policy.Spec { s := specFor(t, "env"); s.Env = nil; return s }(),
			func(o string) bool { return o == "" }},
		{"working directory", dirSpec, func(o string) bool { return o == dirSpec.Dir+"\n" }},
		{"argv[0] as requested", cmdline, func(o string) bool { return o == "my-name\x00/proc/self/cmdline\x00" }},
		// The binary sees 0,1,2 and the directory fd ls itself opens: no fd leaked.
		{"binary gets no extra fd", specFor(t, "ls", "/proc/self/fd"), func(o string) bool { return o == "0\n1\n2\n3\n" }},
		{"binary has no fd 3 at exec", specFor(t, "readlink", "/proc/self/fd/3"), func(o string) bool { return o == "" }},
		// #! script: the checked interpreter runs with the script's path.
		{"script runs through its interpreter", scriptSpec, func(o string) bool { return o == "#!/bin/cat\nhello from the script\n" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, st := run(t, l, tc.spec)
			if !tc.want(out) {
				t.Errorf("output %q", out)
			}
			if tc.name != "binary has no fd 3 at exec" && (st.ExitCode == nil || *st.ExitCode != 0) {
				t.Errorf("exit %+v", st)
			}
		})
	}
}

func TestStartOwnProcessGroup(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	out, _ := run(t, l, specFor(t, "cat", "/proc/self/stat"))
	f := strings.Fields(out[strings.LastIndexByte(out, ')')+1:])
	// fields after the comm: state ppid pgrp
	pid, _ := strconv.Atoi(strings.Fields(out)[0])
	if f[2] != strconv.Itoa(pid) {
		t.Fatalf("pgrp %s, want the child's pid %d", f[2], pid)
	}
	// fields: state ppid pgrp session tty_nr: a session of its own, and no
	// controlling terminal (so no way into the server's terminal).
	if f[3] != strconv.Itoa(pid) || f[4] != "0" {
		t.Fatalf("session %s tty %s, want session %d and no terminal", f[3], f[4], pid)
	}
}

func TestStartRefusesAChangedExecutable(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	src, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	data, _ := os.ReadFile(src)
	exe := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	swapped := specFor(t, exe)
	swapped.Ino++
	setuid := specFor(t, exe)
	tests := []struct {
		name  string
		spec  *policy.Spec
		setup func()
	}{
		{"identity differs", swapped, func() {}},
		{"gained setuid", setuid, func() { syscall.Chmod(exe, 0o4755) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup()
			p, err := l.Start(tc.spec, Stdio{})
			if p != nil {
				p.Wait()
			}
			var e *errcode.Error
			if !errors.As(err, &e) || e.Code != errcode.Internal || !strings.Contains(e.Message, "changed since the policy check") {
				t.Fatalf("err = %v, want INTERNAL executable changed", err)
			}
		})
	}
}

func TestStartMissingDirIsCwdNotFound(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	s := specFor(t, "true")
	s.Dir = filepath.Join(s.Dir, "gone")
	_, err := l.Start(s, Stdio{})
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != errcode.CwdNotFound {
		t.Fatalf("err = %v", err)
	}
}

// alive reports whether any thread of pid still runs: a killed
// multi-threaded process shows its leader as a zombie while its other
// threads are still exiting, holding its descriptors open.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if f[0] != "Z" {
		return true
	}
	tasks, _ := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
	return len(tasks) > 1
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLeaderExitKillsTheRestOfTheGroup(t *testing.T) {
	py, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	spec := specFor(t, py, "-c", "import subprocess,sys; p=subprocess.Popen(['/bin/sleep','30']); print(p.pid)")
	r, w, _ := os.Pipe()
	defer r.Close()
	p, err := l.Start(spec, Stdio{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	// The grandchild holds the pipe open: read the line, not to EOF.
	line := make([]byte, 32)
	n, _ := r.Read(line)
	st := p.Wait()
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("exit %+v", st)
	}
	gc, err := strconv.Atoi(string(bytes.TrimSpace(line[:n])))
	if err != nil {
		t.Fatalf("output %q", line[:n])
	}
	waitGone(t, gc)
}

func TestCloseKillsChildrenThroughPdeathsig(t *testing.T) {
	l := NewLauncher(LauncherOptions{})
	p, err := l.Start(specFor(t, "sleep", "30"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	l.Close()
	done := make(chan ExitState)
	go func() { done <- p.Wait() }()
	select {
	case st := <-done:
		if st.Signal != syscall.SIGKILL {
			t.Fatalf("exit %+v, want SIGKILL", st)
		}
	case <-time.After(10 * time.Second):
		p.SignalGroup(syscall.SIGKILL)
		t.Fatal("child survived its launcher thread")
	}
	if _, err := l.Start(specFor(t, "true"), Stdio{}); err == nil {
		t.Fatal("closed launcher started a process")
	}
	if err := p.SignalGroup(syscall.SIGTERM); err != os.ErrProcessDone {
		t.Fatalf("SignalGroup after reap = %v", err)
	}
}

func TestSignalGroupReachesGrandchildren(t *testing.T) {
	py, err := filepath.EvalSymlinks("/usr/bin/python3")
	if err != nil {
		t.Skip("python3 not available")
	}
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	r, w, _ := os.Pipe()
	defer r.Close()
	spec := specFor(t, py, "-c", "import subprocess,sys,time; p=subprocess.Popen(['/bin/sleep','30']); print(p.pid, flush=True); time.sleep(30)")
	p, err := l.Start(spec, Stdio{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 32)
	n, _ := r.Read(line)
	gc, err := strconv.Atoi(string(bytes.TrimSpace(line[:n])))
	if err != nil {
		t.Fatalf("read %q", line[:n])
	}
	if err := p.SignalGroup(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if st := p.Wait(); st.Signal != syscall.SIGTERM {
		t.Fatalf("exit %+v", st)
	}
	waitGone(t, gc)
}

func TestEnforcementReportsUnenforcedLimits(t *testing.T) {
	all := config.ResourceLimits{MaxCpuPercent: 50, MaxMemoryMB: 64, MaxFileDescriptors: 100, MaxCpuTime: 5, MaxProcesses: 10}
	tests := []struct {
		name        string
		support     Support
		limits      config.ResourceLimits
		applied     []string // besides the layers
		notEnforced []string
	}{
		{"no cgroups", Support{}, policyLimits(), []string{"maxCpuTime (rlimit)"}, []string{"maxCpuTime for the whole tree (needs cgroup CPU accounting: not available; RLIMIT_CPU applies per process)", "maxMemoryMB (needs cgroups: not available)"}},
		{"nothing set", Support{}, config.ResourceLimits{}, nil, nil},
		{"cgroup memory only", Support{Memory: true, Reasons: map[string]string{"pids": "pids controller not delegated"}}, all,
			[]string{"maxMemoryMB (cgroup)", "maxFileDescriptors (rlimit)", "maxCpuTime (rlimit)"},
			[]string{"maxCpuTime for the whole tree (needs cgroup CPU accounting: not available; RLIMIT_CPU applies per process)", "maxCpuPercent (needs cgroups: not available)", "maxProcesses (pids controller not delegated)"}},
		{"everything", Support{Memory: true, Pids: true, CPU: true, CPUUsage: true}, all,
			[]string{"maxCpuPercent (cgroup)", "maxMemoryMB (cgroup)", "maxFileDescriptors (rlimit)", "maxCpuTime (rlimit)", "maxProcesses (cgroup)"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			applied, ne := tc.support.Enforcement(tc.limits)
			want := append(appliedLayers(), tc.applied...)
			if !slices.Equal(applied, want) || !slices.Equal(ne, tc.notEnforced) {
				t.Fatalf("applied %q notEnforced %q, want %q and %q", applied, ne, want, tc.notEnforced)
			}
			if !slices.Contains(applied, string(layers.NoCoreDumps)) {
				t.Fatal("core dumps off is not reported")
			}
		})
	}
	if a, ne := Enforcement(policyLimits()); len(ne) != 2 || len(a) != len(appliedLayers())+1 {
		t.Fatalf("Enforcement = %v, %v", a, ne)
	}
}

// A nil stream is /dev/null opened for writing too: a child whose output is
// not captured must be able to write (and not fail with EBADF).
func TestNilStreamsAreWritableDevNull(t *testing.T) {
	for _, pool := range []int{0, 2} {
		l := testLauncher(pool, Isolation{})
		spec := specFor(t, "head", "-c", "100000", "/dev/zero")
		for i := 0; i < 3; i++ { // cold, then warm stages
			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatalf("pool %d: Start: %v", pool, err)
			}
			if err := p.Release(); err != nil {
				t.Fatalf("pool %d: Release: %v", pool, err)
			}
			if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("pool %d: writing to the nil stdout failed: %s", pool, st)
			}
		}
		l.Close()
	}
}

// A script rewritten in place (same inode) to another interpreter after the
// policy checked it is refused: the kernel would read the new #! line.
func TestStartRefusesAChangedShebang(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "tool")
	if err := os.WriteFile(script, []byte("#!/bin/cat\nhello\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, script)
	f, err := os.OpenFile(script, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("#!/bin/sh\necho shell ran\n")
	f.Close()
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	if _, err := l.Start(spec, Stdio{}); err == nil || !strings.Contains(err.Error(), "#! line") {
		t.Fatalf("a rewritten #! line was launched: %v", err)
	}
}

// testLauncher starts a launcher with exactly pool warm stages (0: none,
// every launch starts its stage cold) and iso.
func testLauncher(pool int, iso Isolation) *Launcher {
	if pool == 0 {
		pool = -1
	}
	return NewLauncher(LauncherOptions{PoolSize: pool, Isolation: iso})
}

// goStageLauncher is testLauncher with Go init stages only (the pool and
// keeper tests: the zygote has neither).
func goStageLauncher(pool int, iso Isolation) *Launcher {
	if pool == 0 {
		pool = -1
	}
	return NewLauncher(LauncherOptions{PoolSize: pool, Isolation: iso, Stage: StageGo})
}
