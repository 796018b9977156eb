//go:build linux

package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

func needZygote(t *testing.T) {
	t.Helper()
	if !stage.ZygoteSupported {
		t.Skip("no zygote on this architecture")
	}
}

// Two launches forked from the same zygote share nothing: the second
// cannot see the first's /tmp, nor read its memory or environment (each is
// in a Landlock domain of its own, as launches through stages are).
func TestZygoteLaunchesShareNothing(t *testing.T) {
	needZygote(t)
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	defer l.Close()
	a := py(t, `
import os, sys, time
open('/tmp/zygote-first', 'w').write('mine')
secret = 'S3CR3T-' + 'x' * 8
print(os.getpid(), flush=True)
time.sleep(30)
`)
	a.Env = append(a.Env, "ZYGOTE_SECRET=first-launch-secret")
	a.Dir = dir
	r, w, _ := os.Pipe()
	defer r.Close()
	pa, err := l.Start(a, Stdio{Stdout: w})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Abort()
	if !pa.forked {
		t.Fatal("the first launch was not forked by the zygote")
	}
	if err := pa.Release(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 32)
	n, _ := r.Read(line)
	if _, err := strconv.Atoi(strings.TrimSpace(string(line[:n]))); err != nil {
		t.Fatalf("first launch printed %q", line[:n])
	}
	b := py(t, `
import os, sys
pid = sys.argv[1]
def attempt(f):
    try:
        f()
        return 'read'
    except OSError as e:
        return 'refused %d' % e.errno
print('tmp', 'seen' if os.path.exists('/tmp/zygote-first') else 'absent')
print('environ', attempt(lambda: open('/proc/%s/environ' % pid, 'rb').read()))
print('mem', attempt(lambda: open('/proc/%s/mem' % pid, 'rb').read(1)))
`)
	b.Argv = append(b.Argv, strconv.Itoa(pa.Pid))
	b.Dir = dir
	pb, err := l.Start(b, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	forked := pb.forked
	pb.Abort()
	if !forked {
		t.Fatal("the second launch was not forked by the zygote")
	}
	out, st := runAll(t, l, b)
	exitOK(t, out, st)
	if !strings.Contains(out, "tmp absent") || !strings.Contains(out, "environ refused") || !strings.Contains(out, "mem refused") {
		t.Fatalf("the second launch reached the first's:\n%s", out)
	}
	// Nor is the first launch's environment in the zygote's memory, which
	// every later child starts with a copy of.
	zpid := l.zygotePid()
	if zpid == 0 {
		t.Fatal("no zygote running")
	}
	if found, err := memContains(zpid, []byte("first-launch-secret")); err != nil {
		t.Logf("cannot read the zygote's memory here (%v): its wipe is not checked", err)
	} else if found {
		t.Fatal("the first launch's environment is still in the zygote's memory after two launches")
	}
}

// memContains reports whether a writable mapping of pid holds needle.
func memContains(pid int, needle []byte) (bool, error) {
	maps, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/maps")
	if err != nil {
		return false, err
	}
	mem, err := os.Open("/proc/" + strconv.Itoa(pid) + "/mem")
	if err != nil {
		return false, err
	}
	defer mem.Close()
	read := 0
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(f[1], "rw") {
			continue
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		if !ok {
			continue
		}
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		if end-start > 256<<20 {
			continue // the heap arena reservations: not backed
		}
		buf := make([]byte, end-start)
		n, _ := mem.ReadAt(buf, int64(start))
		read += n
		if bytes.Contains(buf[:n], needle) {
			return true, nil
		}
	}
	if read == 0 {
		return false, fmt.Errorf("no writable mapping could be read")
	}
	return false, nil
}

// A failure in each class of the zygote's program (a system call with its
// errno, a tolerated error that is not tolerated here, the gate, the exec,
// a failure while planning) fails the launch with the error a stage gives.
func TestZygoteStepErrorsAsStage(t *testing.T) {
	needZygote(t)
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	nrOpen := int64(1 << 20)
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		nrOpen, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("\x7fELF not really\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A working directory beneath a private one, reached through a link:
	// the private view refuses to keep it (ELOOP is not tolerated).
	real := t.TempDir()
	os.Chmod(real, 0o777)
	link := filepath.Join(os.TempDir(), "mcp-zygote-link-"+strconv.Itoa(os.Getpid()))
	os.Remove(link)
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(link)
	// The read-only filesystem (a root server's zygote plans it).
	ro := iso
	ro.ReadOnly, ro.TmpfsMB = true, 16
	roAbsent := ro
	roAbsent.WritablePaths = []string{filepath.Join(dir, "absent")}
	for _, tc := range []struct {
		name    string
		spec    func() *policy.Spec
		release bool       // the failure shows at Release
		iso     *Isolation // nil: the development defaults
	}{
		{"rlimit (system call)", func() *policy.Spec {
			s := specFor(t, "true")
			s.Limits = config.ResourceLimits{MaxFileDescriptors: nrOpen + 1}
			return s
		}, false, nil},
		{"private view (a kept path that is a link)", func() *policy.Spec {
			s := specFor(t, "true")
			s.Dir = link
			return s
		}, false, nil},
		{"exec", func() *policy.Spec { return specFor(t, garbage) }, true, nil},
		{"planning (a NUL in argv)", func() *policy.Spec {
			s := specFor(t, "true")
			s.Argv = append(s.Argv, "a\x00b")
			return s
		}, false, nil},
		{"read-only filesystem (a writable path that is absent)", func() *policy.Spec { return specFor(t, "true") }, false, &roAbsent},
		{"read-only filesystem (a path kept beneath /tmp that is a link)", func() *policy.Spec {
			s := specFor(t, "true")
			s.Dir = link
			return s
		}, false, &ro},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.iso != nil && os.Geteuid() != 0 {
				t.Skip("the zygote plans the read-only filesystem for a root server only")
			}
			got := map[StageKind]string{}
			for _, kind := range []StageKind{StageZygote, StageGo} {
				o := LauncherOptions{Stage: kind, PoolSize: -1, Isolation: iso}
				if tc.iso != nil {
					o.Isolation = *tc.iso
				}
				l := NewLauncher(o)
				spec := tc.spec()
				p, err := l.Start(spec, Stdio{})
				if kind == StageZygote && l.zygoteServed() != 1 {
					t.Fatal("the zygote did not plan the launch")
				}
				if err == nil {
					if kind == StageZygote && !p.forked {
						t.Fatal("not forked by the zygote")
					}
					if !tc.release {
						p.Abort()
						l.Close()
						t.Fatalf("%v: Start succeeded", kind)
					}
					err = p.Release()
					if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != stage.ExitFailed {
						t.Fatalf("%v: ended %v, want exit %d", kind, st, stage.ExitFailed)
					}
				}
				l.Close()
				var e *errcode.Error
				if !errors.As(err, &e) {
					t.Fatalf("%v: err %v, want an errcode.Error", kind, err)
				}
				got[kind] = string(e.Code) + " " + e.Layer + ": " + e.Message + " / " + e.Remedy
			}
			if got[StageZygote] != got[StageGo] {
				t.Fatalf("the zygote's launch fails with\n  %s\na stage's with\n  %s", got[StageZygote], got[StageGo])
			}
			t.Log(got[StageGo])
		})
	}
}

// Abort at the gate: the forked child never runs its target, and a
// zygote that died is replaced for the next launch.
func TestZygoteAbortAndRestart(t *testing.T) {
	needZygote(t)
	l := NewLauncher(LauncherOptions{Stage: StageZygote})
	defer l.Close()
	spec, marker := markerSpec(t)
	p, err := l.Start(spec, Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.forked {
		t.Fatal("not forked by the zygote")
	}
	p.Abort()
	time.Sleep(50 * time.Millisecond)
	if exists(marker) {
		t.Fatal("the target ran after Abort")
	}
	first := l.zygotePid()
	if first == 0 {
		t.Fatal("no zygote")
	}
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil { // our child, not reaped: its pid
		t.Fatal(err)
	}
	spec, marker = markerSpec(t)
	out, st := runAll(t, l, spec)
	exitOK(t, out, st)
	if !exists(marker) {
		t.Fatal("the launch after the zygote died did not run")
	}
	if now := l.zygotePid(); now == 0 || now == first {
		t.Fatalf("zygote %d after %d died, want a new one", now, first)
	}
}

// A child of the zygote runs its steps in the zygote's own memory (not a
// copy of it) until its exec, and has a memory of its own from the exec
// on; however many launches the zygote served, it keeps no more than a
// few stacks for its children.
func TestZygoteChildSharesMemoryUntilExec(t *testing.T) {
	needZygote(t)
	if !stage.VMForkSupported {
		t.Skip("the zygote forks on this architecture")
	}
	if b, _ := os.ReadFile("/proc/sys/fs/suid_dumpable"); strings.TrimSpace(string(b)) == "1" {
		t.Skip("fs.suid_dumpable is 1 here: the zygote forks")
	}
	if os.Geteuid() != 0 {
		t.Skip("comparing the zygote's memory with kcmp needs root (the zygote is not dumpable)")
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote})
	defer l.Close()
	p, err := l.Start(specFor(t, "/bin/sleep", "30"), Stdio{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Abort()
	if !p.forked {
		t.Fatal("the launch was not forked by the zygote")
	}
	zpid := l.zygotePid()
	if r := kcmpVM(t, p.Pid, zpid); r != 0 {
		t.Fatalf("the child at its gate has a memory of its own (kcmp %d): the zygote forked it", r)
	}
	if err := p.Release(); err != nil {
		t.Fatal(err)
	}
	if r := kcmpVM(t, p.Pid, zpid); r == 0 {
		t.Fatal("the target still shares the zygote's memory after its exec")
	}
	p.Abort()
	maps := func() int {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", zpid))
		if err != nil {
			t.Fatal(err)
		}
		return bytes.Count(b, []byte("\n"))
	}
	before := maps()
	spec := specFor(t, "/bin/true")
	for i := 0; i < 40; i++ {
		q, err := l.Start(spec, Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Release(); err != nil {
			t.Fatal(err)
		}
		q.Wait()
	}
	if l.zygotePid() != zpid {
		t.Fatal("the zygote was restarted")
	}
	if after := maps(); after > before+2*8 {
		t.Fatalf("the zygote's mappings grew from %d to %d over 40 launches: stacks are not reused", before, after)
	}
}

// kcmpVM is kcmp(a, b, KCMP_VM): 0 when the two share their memory.
func kcmpVM(t *testing.T, a, b int) int {
	t.Helper()
	r, _, e := syscall.Syscall6(unix.SYS_KCMP, uintptr(a), uintptr(b), 1 /* KCMP_VM */, 0, 0, 0)
	if e != 0 {
		t.Fatalf("kcmp(%d, %d, KCMP_VM): %v", a, b, e)
	}
	return int(r)
}

// zygoteFaultEnv names the fault a re-run of
// TestZygoteNamespaceStepErrorsAsStage injects into its own process.
const zygoteFaultEnv = "MCP_ZYGOTE_TEST_FAULT"

// A failure in each namespace step the zygote plans for a root server
// (the host name, the loopback, the fresh /proc) fails the launch with the
// error a stage gives. The steps cannot fail on their own here, so the
// test runs itself again in a process that a seccomp filter (inherited by
// every stage, zygote and child) makes refuse one system call of one step.
func TestZygoteNamespaceStepErrorsAsStage(t *testing.T) {
	needZygote(t)
	if os.Geteuid() != 0 {
		t.Skip("the zygote plans per-launch namespaces for a root server only")
	}
	if fault := os.Getenv(zygoteFaultEnv); fault != "" {
		zygoteFaultRun(t, fault)
		return
	}
	for _, tc := range []struct{ fault, want string }{
		{"sethostname", `init stage step "hostname": sethostname mcp-process: operation not permitted`},
		{"socket", `init stage step "loopback": socket: operation not permitted`},
		{"ioctl", `init stage step "loopback": SIOCSIFFLAGS lo up: operation not permitted`},
		{"proc", `init stage step "mounts": mount a fresh /proc on /proc: operation not permitted`},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestZygoteNamespaceStepErrorsAsStage$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), zygoteFaultEnv+"="+tc.fault)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v:\n%s", err, out)
			}
			if !strings.Contains(string(out), "both: ") || !strings.Contains(string(out), tc.want) {
				t.Fatalf("want both launches to fail with %q:\n%s", tc.want, out)
			}
		})
	}
}

// zygoteFaultRun makes this process refuse fault's system call (EPERM),
// then launches with every namespace but user through the zygote and
// through a stage, and compares the errors.
func zygoteFaultRun(t *testing.T, fault string) {
	nr, arg, val := map[string]uint32{"sethostname": unix.SYS_SETHOSTNAME, "socket": unix.SYS_SOCKET, "ioctl": unix.SYS_IOCTL, "proc": unix.SYS_MOUNT}[fault], -1, uint32(0)
	switch fault {
	case "socket":
		arg, val = 0, unix.AF_INET
	case "ioctl":
		arg, val = 1, unix.SIOCSIFFLAGS
	case "proc":
		arg, val = 3, unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC // only the fresh /proc's flags
	}
	if nr == 0 {
		t.Fatalf("unknown fault %q", fault)
	}
	installFault(t, nr, arg, val)
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	iso.Namespaces = config.Namespaces{PID: true, Network: true, UTS: true, IPC: true, Mount: true}
	got := map[StageKind]string{}
	for _, kind := range []StageKind{StageZygote, StageGo} {
		l := NewLauncher(LauncherOptions{Stage: kind, PoolSize: -1, Isolation: iso})
		p, err := l.Start(specFor(t, "true"), Stdio{})
		served := l.zygoteServed()
		if err == nil {
			p.Abort()
		}
		l.Close()
		if kind == StageZygote && served != 1 {
			t.Fatal("the zygote did not plan the launch")
		}
		var e *errcode.Error
		if !errors.As(err, &e) {
			t.Fatalf("%v: err %v, want an errcode.Error", kind, err)
		}
		got[kind] = string(e.Code) + " " + e.Layer + ": " + e.Message + " / " + e.Remedy
	}
	if got[StageZygote] != got[StageGo] {
		t.Fatalf("the zygote's launch fails with\n  %s\na stage's with\n  %s", got[StageZygote], got[StageGo])
	}
	t.Log("both: " + got[StageGo])
}

// installFault installs, on every thread of this process, a seccomp
// filter that fails system call nr with EPERM (when arg >= 0, only when
// that argument's low 32 bits are val).
func installFault(t *testing.T, nr uint32, arg int, val uint32) {
	arch := uint32(0xc000003e) // AUDIT_ARCH_X86_64
	if runtime.GOARCH == "arm64" {
		arch = 0xc00000b7
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	prog := []unix.SockFilter{
		{Code: ld, K: 4},
		{Code: jeq, K: arch, Jf: 5},
		{Code: ld, K: 0},
		{Code: jeq, K: nr, Jf: 3},
		{Code: ld, K: uint32(16 + 8*max(arg, 0))},
		{Code: jeq, K: val, Jf: 1},
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
	}
	if arg < 0 {
		prog[4] = unix.SockFilter{Code: ld, K: 0}
		prog[5] = unix.SockFilter{Code: jeq, K: nr, Jf: 1}
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if _, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_TSYNC, uintptr(unsafe.Pointer(&fp))); e != 0 {
		t.Skipf("cannot install the fault's seccomp filter: %v", e)
	}
	runtime.KeepAlive(prog)
}

// A root server's zygote makes the next child's namespaces while it idles
// (stage/zygote_ns_linux.go): the child of the next launch is in exactly
// those, each of them new (not the server's, not an earlier child's), and
// is the init of a PID namespace of its own (made by its clone3).
func TestZygotePreparesNamespacesWhileIdle(t *testing.T) {
	needZygote(t)
	if os.Geteuid() != 0 {
		t.Skip("the zygote plans per-launch namespaces for a root server only")
	}
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	iso.Namespaces = config.Namespaces{PID: true, Network: true, UTS: true, IPC: true, Mount: true}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	defer l.Close()
	kinds := map[string]string{"net": "net", "uts": "uts", "ipc": "ipc"} // made while idle (the PID one by the clone3)
	ns := func(pid int, kind string) string {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, kind))
		if err != nil {
			t.Fatal(err)
		}
		return link
	}
	start := func() *Process {
		p, err := l.Start(specFor(t, "/bin/sleep", "30"), Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.forked {
			p.Abort()
			t.Fatal("not forked by the zygote")
		}
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := start()
	defer first.Abort()
	// What the zygote holds now: the next child's namespaces.
	held := map[string]string{}
	deadline := time.Now().Add(5 * time.Second)
	for len(held) < len(kinds) && time.Now().Before(deadline) {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", l.zygotePid()))
		for _, e := range ents {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", l.zygotePid(), e.Name()))
			kind, _, ok := strings.Cut(link, ":[")
			if _, want := kinds[kind]; ok && want && link != ns(os.Getpid(), kind) {
				held[kind] = link
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(held) != len(kinds) {
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", l.zygotePid()))
		var all []string
		for _, e := range ents {
			link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", l.zygotePid(), e.Name()))
			all = append(all, e.Name()+"->"+link)
		}
		t.Fatalf("the idle zygote holds %v (descriptors %v), want a new net, uts and ipc namespace", held, all)
	}
	second := start()
	defer second.Abort()
	for _, kind := range []string{"net", "uts", "ipc", "pid"} {
		server, a, b := ns(os.Getpid(), kind), ns(first.Pid, kind), ns(second.Pid, kind)
		if a == server || b == server || a == b {
			t.Errorf("%s: server %s, first child %s, second %s: want three distinct", kind, server, a, b)
		}
		if _, made := kinds[kind]; made && b != held[kind] {
			t.Errorf("%s: the second child is in %s, the zygote had made %s", kind, b, held[kind])
		}
	}
	// The init of its PID namespace: its pid there (NSpid's last field) is 1.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", second.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "NSpid:" && f[len(f)-1] != "1" {
			t.Errorf("the second child's %s: not its PID namespace's init", line)
		}
	}
}

// A root server's zygote drops from its own bounding set, once, what no
// launch of its launcher keeps; its children inherit that set, and a
// target ends with exactly the kept capabilities in every set, as through
// a stage.
func TestZygoteNarrowsItsBoundingSet(t *testing.T) {
	needZygote(t)
	needRoot(t)
	keep, _ := config.CapabilityMask([]string{"CAP_NET_BIND_SERVICE", "CAP_KILL"})
	want := fmt.Sprintf("%016x", keep)
	for _, stageKind := range []StageKind{StageZygote, StageGo} {
		l := NewLauncher(LauncherOptions{Stage: stageKind, Isolation: Isolation{KeepCaps: keep}})
		spec := specFor(t, "cat", "/proc/self/status")
		spec.Dir = "/"
		out, st := runAll(t, l, spec)
		exitOK(t, out, st)
		for _, f := range []string{"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"} {
			if got := statusField(t, out, f); got != want {
				t.Errorf("stage %v: target's %s = %s, want %s", stageKind, f, got, want)
			}
		}
		if stageKind == StageZygote {
			status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", l.zygotePid()))
			if err != nil {
				t.Fatal(err)
			}
			if got := statusField(t, string(status), "CapBnd"); got != want {
				t.Errorf("zygote's CapBnd = %s, want %s", got, want)
			}
		}
		l.Close()
	}
}

// zygoteAwaitsLaunch reports whether zygote z waits for its next launch
// with the next child's preparation done: blocked in recvmsg, or in the
// ppoll of awaitLaunch (no timeout), not in one of its preparation's
// (mountTableChanged's, with a zero timeout).
func zygoteAwaitsLaunch(z int) bool {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/syscall", z, z))
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return false
	}
	switch f[0] {
	case strconv.Itoa(unix.SYS_RECVMSG):
		return true
	case strconv.Itoa(unix.SYS_PPOLL):
		return f[3] == "0x0"
	}
	return false
}

// waitZygoteAwaitsLaunch waits (5 s at most) for zygoteAwaitsLaunch.
func waitZygoteAwaitsLaunch(t *testing.T, z int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if zygoteAwaitsLaunch(z) {
			return
		}
	}
	t.Fatalf("zygote %d does not get to wait for its next launch", z)
}
