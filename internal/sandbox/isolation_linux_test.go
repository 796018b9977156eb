//go:build linux

package sandbox

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// isoRun launches spec through a launcher with iso (pool warm stages) and
// returns its stdout and stderr together and how it ended.
func isoRun(t *testing.T, iso Isolation, pool int, spec *policy.Spec) (string, ExitState) {
	t.Helper()
	l := testLauncher(pool, iso)
	defer l.Close()
	return runAll(t, l, spec)
}

func runAll(t *testing.T, l *Launcher, spec *policy.Spec) (string, ExitState) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, err := l.Start(spec, Stdio{Stdout: w, Stderr: w})
	w.Close()
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	if err := p.Release(); err != nil {
		t.Fatalf("Release: %v", err)
	}
	out, _ := io.ReadAll(r)
	return string(out), p.Wait()
}

// py runs a Python snippet as the target (the real interpreter, not a
// shim found in PATH).
func py(t *testing.T, code string) *policy.Spec {
	t.Helper()
	spec := specFor(t, python(t), "-c", code)
	spec.Argv[0] = "python3"
	return spec
}

// hostDir is a directory outside /tmp (which readOnlyFilesystem replaces
// with a private tmpfs), usable by any uid.
func hostDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("/var/tmp", "mcp-iso-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

func exitOK(t *testing.T, out string, st ExitState) {
	t.Helper()
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("child %s, output:\n%s", st, out)
	}
}

// statusField returns a field of /proc/self/status as the child printed it.
func statusField(t *testing.T, status, name string) string {
	t.Helper()
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no %s in\n%s", name, status)
	return ""
}

// Every child: no_new_privs, and (root server) no capability at all, or
// exactly the kept ones.
func TestCapabilitiesAndNoNewPrivs(t *testing.T) {
	needRoot(t)
	keep, _ := config.CapabilityMask([]string{"CAP_NET_BIND_SERVICE", "CAP_KILL"})
	drop, _ := config.CapabilityMask([]string{"CAP_KILL"})
	for _, tc := range []struct {
		name string
		iso  Isolation
		want string
	}{
		{"default", Isolation{}, "0000000000000000"},
		{"keep", Isolation{KeepCaps: keep}, fmt.Sprintf("%016x", keep)},
		{"drop wins", Isolation{KeepCaps: keep &^ drop}, fmt.Sprintf("%016x", uint64(1)<<10)},
		{"user namespace", Isolation{Namespaces: config.Namespaces{User: true}}, "0000000000000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := specFor(t, "cat", "/proc/self/status")
			spec.Dir = "/"
			out, st := isoRun(t, tc.iso, 0, spec)
			exitOK(t, out, st)
			for _, f := range []string{"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"} {
				if got := statusField(t, out, f); got != tc.want {
					t.Errorf("%s = %s, want %s", f, got, tc.want)
				}
			}
			if got := statusField(t, out, "NoNewPrivs"); got != "1" {
				t.Errorf("NoNewPrivs = %s, want 1", got)
			}
		})
	}
}

// A setgid file that the child executes does not change its group:
// no_new_privs makes set-id bits inert (the same file run by the test,
// without no_new_privs, does change it).
func TestSetIDBitsAreInert(t *testing.T) {
	needRoot(t)
	python(t)
	dir := t.TempDir()
	id := filepath.Join(dir, "id")
	b, err := os.ReadFile("/usr/bin/id")
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(id, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(id, 0, 4242); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(id, os.ModeSetgid|0o755); err != nil {
		t.Fatal(err)
	}
	control, err := exec.Command(id, "-g").Output()
	if err != nil || strings.TrimSpace(string(control)) != "4242" {
		t.Skipf("setgid does not work in %s (nosuid mount?): %q %v", dir, control, err)
	}
	out, st := isoRun(t, Isolation{}, 0, py(t, fmt.Sprintf("import os; os.execv(%q, ['id', '-g'])", id)))
	exitOK(t, out, st)
	if strings.TrimSpace(out) != "0" {
		t.Fatalf("id -g = %q inside, want 0: the setgid bit took effect", out)
	}
}

func TestPIDNamespace(t *testing.T) {
	needRoot(t)
	code := `import os, sys
print(os.getpid())
print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))
try:
    os.kill(int(sys.argv[1]), 0)
    print('host process visible')
except ProcessLookupError:
    print('host process invisible')`
	spec := py(t, code)
	spec.Argv = append(spec.Argv, strconv.Itoa(os.Getpid()))
	out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{PID: true}}, 0, spec)
	exitOK(t, out, st)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "1" || lines[1] != "[1]" || lines[2] != "host process invisible" {
		t.Fatalf("inside the PID namespace:\n%s\nwant pid 1, /proc listing only [1], the server invisible", out)
	}
}

func TestUTSNamespace(t *testing.T) {
	needRoot(t)
	before, _ := os.Hostname()
	out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{UTS: true}}, 0, specFor(t, "hostname"))
	exitOK(t, out, st)
	if strings.TrimSpace(out) != "mcp-process" {
		t.Fatalf("hostname inside = %q, want mcp-process", out)
	}
	if after, _ := os.Hostname(); after != before {
		t.Fatalf("the host's hostname changed from %q to %q", before, after)
	}
}

func TestNetworkNamespace(t *testing.T) {
	needRoot(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accepts until the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	code := fmt.Sprintf(`import socket
print(sorted(l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]))
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); c = socket.create_connection(s.getsockname(), timeout=5); print('lo up')
try:
    socket.create_connection(('127.0.0.1', %d), timeout=5); print('host reachable')
except OSError as e:
    print('host unreachable', e.errno)`, port)
	out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{Network: true}}, 0, py(t, code))
	exitOK(t, out, st)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] != "['lo']" || lines[1] != "lo up" || !strings.HasPrefix(lines[2], "host unreachable") {
		t.Fatalf("inside the network namespace:\n%s\nwant only lo, up, and the host's listener unreachable", out)
	}
}

func TestUserNamespace(t *testing.T) {
	needRoot(t)
	spec := py(t, `import os
print(open('/proc/self/uid_map').read().split())
print(open('/proc/self/gid_map').read().split())
print(os.getuid(), os.getgroups())
st = [l for l in open('/proc/self/status') if l.startswith('CapEff')][0].split()[1]
print(st)
try:
    open('/etc/mcp-userns-test', 'w'); print('wrote /etc')
except OSError as e:
    print('denied', e.errno)`)
	spec.Dir = "/"
	out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{User: true}}, 0, spec)
	exitOK(t, out, st)
	os.Remove("/etc/mcp-userns-test")
	host := subordinate("/etc/subuid")
	hostG := subordinate("/etc/subgid")
	want := fmt.Sprintf("['0', '%d', '65536']\n['0', '%d', '65536']\n0 []\n0000000000000000\ndenied 13", host, hostG)
	if strings.TrimSpace(out) != want {
		t.Fatalf("inside the user namespace:\n%s\nwant\n%s", out, want)
	}
}

func TestReadOnlyFilesystem(t *testing.T) {
	needRoot(t)
	w := hostDir(t)
	code := `import errno, os
def attempt(path, size=1):
    try:
        with open(path, 'wb') as f:
            f.write(b'x' * size)
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
print(attempt('/etc/mcp-ro-test'))
print(attempt('/tmp/small'))
print(attempt('` + w + `/out'))
print(attempt('/tmp/big', 3 << 20))
print(oct(os.stat('/tmp').st_mode & 0o7777))`
	spec := py(t, code)
	spec.Dir = "/"
	out, st := isoRun(t, Isolation{ReadOnly: true, TmpfsMB: 2, WritablePaths: []string{w}}, 0, spec)
	exitOK(t, out, st)
	os.Remove("/etc/mcp-ro-test")
	if want := "EROFS\nok\nok\nENOSPC\n0o1777"; strings.TrimSpace(out) != want {
		t.Fatalf("read-only filesystem:\n%s\nwant\n%s", out, want)
	}
	if exists("/tmp/small") {
		t.Error("the child's /tmp is the host's")
	}
	if !exists(filepath.Join(w, "out")) {
		t.Error("the writable path's file is not on the host")
	}
}

// A working directory and a writable path under /tmp (a project made with
// mktemp -d) stay usable under readOnlyFilesystem, whose private tmpfs
// covers /tmp: they are bound back over it, the working directory as
// read-only as the rest, the writable path writable. Without the bind the
// launch failed with no working directory.
func TestReadOnlyFilesystemKeepsPathsUnderTmp(t *testing.T) {
	needRoot(t)
	base, err := os.MkdirTemp("/tmp", "mcp-ro-keep-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	work, out := filepath.Join(base, "work"), filepath.Join(base, "out")
	for _, d := range []string{base, work, out} {
		if err := os.MkdirAll(d, 0o777); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o777)
	}
	if err := os.WriteFile(filepath.Join(work, "marker"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := `import errno, os
def attempt(path):
    try:
        open(path, 'wb').write(b'x')
        return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
print(os.getcwd(), open('marker').read())
print(attempt('new'))
print(attempt('` + out + `/file'))
print(sorted(os.listdir('/tmp')))`
	spec := py(t, code)
	spec.Dir = work
	o, st := isoRun(t, Isolation{ReadOnly: true, WritablePaths: []string{out}}, 0, spec)
	exitOK(t, o, st)
	want := work + " host\nEROFS\nok\n['" + filepath.Base(base) + "']"
	if strings.TrimSpace(o) != want {
		t.Fatalf("under readOnlyFilesystem with the working directory in /tmp:\n%s\nwant\n%s", o, want)
	}
	if !exists(filepath.Join(out, "file")) {
		t.Error("the writable path's file is not on the host")
	}
}

// buildProbe builds a static Go program (CGO_ENABLED=0) into dir.
func buildProbe(t *testing.T, dir, src string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not found")
	}
	srcDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(srcDir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(srcDir, "go.mod"), []byte("module probe\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "probe")
	cmd := exec.Command(goBin, "build", "-o", out, ".")
	cmd.Dir = srcDir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}

const probeSrc = `package main

import (
	"fmt"
	"os"
)

func main() {
	wd, _ := os.Getwd()
	fmt.Println(wd)
	ents, _ := os.ReadDir("/")
	for _, e := range ents {
		fmt.Print(e.Name(), " ")
	}
	fmt.Println()
	_, err := os.Stat(os.Args[1])
	fmt.Println(err == nil)
}
`

func TestChroot(t *testing.T) {
	needRoot(t)
	jail := t.TempDir()
	for _, d := range []string{"bin", "work", "proc", "tmp"} {
		if err := os.Mkdir(filepath.Join(jail, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	exe := buildProbe(t, filepath.Join(jail, "bin"), probeSrc)
	var st0 syscall.Stat_t
	spec := &policy.Spec{Path: exe, Argv: []string{"probe", os.Args[0]}, Dir: "/work"}
	if err := syscall.Stat(exe, &st0); err != nil {
		t.Fatal(err)
	}
	spec.Dev, spec.Ino = uint64(st0.Dev), st0.Ino
	for _, iso := range []Isolation{
		{Root: jail},
		{Root: jail, ReadOnly: true, Namespaces: config.Namespaces{PID: true}},
		{Root: jail, Namespaces: config.Namespaces{Network: true}}, // no /sys in the jail: nothing to replace
	} {
		for _, pool := range []int{0, 1} {
			out, st := isoRun(t, iso, pool, spec)
			exitOK(t, out, st)
			want := "/work\nbin proc tmp work \nfalse"
			if strings.TrimSpace(out) != want {
				t.Fatalf("in the jail (%+v, pool %d):\n%s\nwant\n%s", iso, pool, out, want)
			}
		}
	}
	// A jail's /sys that is not a sysfs (here an empty directory) shows
	// nothing of the host: a network namespace leaves it empty, it does not
	// mount the kernel's sysfs there.
	if err := os.Mkdir(filepath.Join(jail, "sys"), 0o755); err != nil {
		t.Fatal(err)
	}
	sysSpec := *spec
	sysSpec.Argv = []string{"probe", "/sys/class"}
	out, st := isoRun(t, Isolation{Root: jail, Namespaces: config.Namespaces{Network: true}}, 0, &sysSpec)
	exitOK(t, out, st)
	if want := "/work\nbin proc sys tmp work \nfalse"; strings.TrimSpace(out) != want {
		t.Fatalf("in a jail with an empty /sys and a network namespace:\n%s\nwant\n%s", out, want)
	}
	// The working directory is a path inside the jail.
	spec.Dir = "/nonexistent"
	l := testLauncher(0, Isolation{Root: jail})
	defer l.Close()
	_, err := l.Start(spec, Stdio{})
	wantErrCode(t, err, errcode.CwdNotFound, "")
}

func TestLandlock(t *testing.T) {
	needRoot(t)
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skip(err)
	}
	other := hostDir(t) // outside /tmp, which is writable
	w := hostDir(t)
	code := `import errno, sys
def attempt(path):
    try:
        open(path, 'w').write('x'); return 'ok'
    except OSError as e:
        return errno.errorcode[e.errno]
print(attempt('in-cwd'), attempt('/tmp/mcp-landlock-test'), attempt(sys.argv[1] + '/w'), attempt(sys.argv[2] + '/no'), attempt('/dev/null'))
print(len(open('/etc/passwd').read()) > 0)`
	spec := py(t, code)
	spec.Argv = append(spec.Argv, w, other)
	spec.Dir = hostDir(t)
	out, st := isoRun(t, Isolation{Landlock: true, WritablePaths: []string{w}}, 0, spec)
	os.Remove("/tmp/mcp-landlock-test")
	exitOK(t, out, st)
	if want := "ok ok ok EACCES ok\nTrue"; strings.TrimSpace(out) != want {
		t.Fatalf("under Landlock:\n%s\nwant\n%s", out, want)
	}
	if exists(filepath.Join(other, "no")) {
		t.Fatal("a file was written outside the allowed paths")
	}
}

func TestSeccomp(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		profile string
		spec    func() *policy.Spec
		ok      bool
		says    string
	}{
		{"moderate", func() *policy.Spec { return specFor(t, "unshare", "--user", "true") }, false, "Operation not permitted"},
		{"permissive", func() *policy.Spec { return specFor(t, "unshare", "--user", "true") }, true, ""},
		{"strict", func() *policy.Spec { return specFor(t, "ls", "/") }, true, "usr"},
	} {
		t.Run(tc.profile, func(t *testing.T) {
			iso, err := IsolationFor(&config.Config{EnableSeccomp: true, SeccompProfile: tc.profile})
			if err != nil {
				t.Fatal(err)
			}
			out, st := isoRun(t, iso, 0, tc.spec())
			if ok := st.ExitCode != nil && *st.ExitCode == 0; ok != tc.ok || !strings.Contains(out, tc.says) {
				t.Fatalf("%s: %s, output %q; want success=%v mentioning %q", tc.profile, st, out, tc.ok, tc.says)
			}
		})
	}
}

// Warm stages are cloned into the namespaces before their launch.
func TestWarmStagesAreIsolated(t *testing.T) {
	needRoot(t)
	iso := Isolation{Namespaces: config.Namespaces{PID: true, UTS: true, IPC: true, Network: true, Mount: true}}
	l := testLauncher(2, iso)
	defer l.Close()
	deadline := time.Now().Add(20 * time.Second)
	var pids []int
	for len(pids) < 2 && time.Now().Before(deadline) {
		pids = idlePids(t, l)
		time.Sleep(20 * time.Millisecond)
	}
	if len(pids) < 2 {
		t.Fatalf("pool not filled: %v", pids)
	}
	for _, pid := range pids {
		for _, ns := range []string{"pid", "uts", "ipc", "net", "mnt"} {
			mine, _ := os.Readlink("/proc/self/ns/" + ns)
			its, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
			if err != nil {
				t.Fatal(err)
			}
			if its == mine {
				t.Errorf("idle stage %d shares the server's %s namespace", pid, ns)
			}
		}
	}
	spec := py(t, "import os, socket; print(os.getpid(), socket.gethostname())")
	for i := 0; i < 3; i++ {
		out, st := runAll(t, l, spec)
		exitOK(t, out, st)
		if strings.TrimSpace(out) != "1 mcp-process" {
			t.Fatalf("launch %d: %q, want pid 1 in host mcp-process", i, out)
		}
	}
}

// MAC: where neither AppArmor nor SELinux is active, IsolationFor fails
// and the launcher refuses every launch (fail closed).
func TestMACUnavailableRefusesLaunches(t *testing.T) {
	if _, _, err := config.MACExec("p"); err == nil {
		t.Skip("a MAC module is active here")
	}
	iso, err := IsolationFor(&config.Config{EnableMAC: true, MacProfile: "mcp-child"})
	wantErrCode(t, err, errcode.LayerUnavailable, "mac", "neither AppArmor nor SELinux")
	l := testLauncher(0, iso)
	defer l.Close()
	spec, marker := markerSpec(t)
	_, err = l.Start(spec, Stdio{})
	wantErrCode(t, err, errcode.LayerUnavailable, "mac")
	if exists(marker) {
		t.Fatal("the target ran")
	}
}

func TestIsolationForAndLayers(t *testing.T) {
	c := &config.Config{
		EnableNamespaces: true, Namespaces: config.Namespaces{PID: true, User: true},
		EnableChroot: true, ChrootDirectory: "/srv/jail/",
		ReadOnlyFilesystem: true, TmpfsSize: 64, WritablePaths: []string{"/out/"},
		KeepCapabilities: []string{"CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}, DropCapabilities: []string{"cap_net_raw"},
		EnableSeccomp: true, SeccompProfile: "strict",
	}
	iso, err := IsolationFor(c)
	if err != nil {
		t.Fatal(err)
	}
	if iso.Root != "/srv/jail" || iso.TmpfsMB != 64 || iso.WritablePaths[0] != "/out" || iso.KeepCaps != 1<<10 || len(iso.Seccomp) == 0 {
		t.Fatalf("IsolationFor = %+v", iso)
	}
	want := "namespaces (user, pid, mount)|chroot (/srv/jail)|read-only filesystem|" + privateViewLayer + "|identity (uid 65534, gid 65534 inside the user namespace, no supplementary groups)|landlock scope (signals, abstract unix sockets, ptrace)|seccomp baseline (no AF_UNIX, AF_VSOCK sockets, no io_uring)|seccomp (strict)"
	if got := strings.Join(iso.Layers(), "|"); got != want {
		t.Fatalf("Layers = %q, want %q", got, want)
	}
	// The strict program is the profile with the baseline's AF_UNIX rule.
	if strict, _ := seccomp.Program(seccomp.Strict, false); !bytes.Equal(iso.Seccomp, strict) {
		t.Fatal("IsolationFor's strict program is not seccomp.Program(strict, false)")
	}
	// Namespaces only with enableNamespaces; writablePaths only with a layer that uses them.
	iso, _ = IsolationFor(&config.Config{Namespaces: config.Namespaces{PID: true}, WritablePaths: []string{"/x"}})
	layers := 5 // namespaces (mount), private view, identity, scope and the seccomp baseline
	if len(iso.HideRead) > 0 {
		layers++ // the hidden paths' read layer (a host with Landlock)
	}
	if iso.Namespaces.PID || iso.WritablePaths != nil || len(iso.Layers()) != layers {
		t.Fatalf("IsolationFor = %+v, layers %q", iso, iso.Layers())
	}
	// The baseline alone, with and without allowUnixSockets.
	for _, allow := range []bool{false, true} {
		iso, _ = IsolationFor(&config.Config{AllowUnixSockets: allow, SeccompProfile: "strict"}) // not enabled: ignored
		want, _ := seccomp.Program(seccomp.Baseline, allow)
		if iso.SeccompProfile != seccomp.Baseline || !bytes.Equal(iso.Seccomp, want) {
			t.Fatalf("allowUnixSockets %v: profile %q, program of %d bytes, want the baseline's %d",
				allow, iso.SeccompProfile, len(iso.Seccomp), len(want))
		}
		l := strings.Join(iso.Layers(), "|")
		if strings.Contains(l, "seccomp (") || strings.Contains(l, "no AF_UNIX") == allow {
			t.Fatalf("allowUnixSockets %v: layers %q", allow, l)
		}
	}
	_, err = IsolationFor(&config.Config{KeepCapabilities: []string{"CAP_FLY"}})
	wantErrCode(t, err, errcode.InvalidInput, LayerCapabilities, "CAP_FLY")
}

// A step that fails inside the stage fails the launch: the target never runs.
func TestFailedIsolationStepRefusesTheLaunch(t *testing.T) {
	needRoot(t)
	jail := t.TempDir() // no /proc in it: the fresh /proc cannot be mounted
	spec, marker := markerSpec(t)
	l := testLauncher(0, Isolation{Root: jail, Namespaces: config.Namespaces{PID: true}})
	defer l.Close()
	spec.Dir = "/"
	_, err := l.Start(spec, Stdio{})
	wantErrCode(t, err, errcode.Internal, "filesystem", "/proc") // the mounts step reports its layer
	time.Sleep(50 * time.Millisecond)
	if exists(marker) {
		t.Fatal("the target ran")
	}
}

// With a network namespace the stage mounts a fresh sysfs on /sys (SPEC
// 7.1): /sys/class/net lists the namespace's lo only, /sys is read-only,
// and the host's cgroup tree is still there, read-only. Without the
// network namespace (mount namespace only) /sys is the host's: more than lo.
func TestNetworkNamespaceSysfs(t *testing.T) {
	needRoot(t)
	hostNet, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Skip("the host has no /sys/class/net:", err)
	}
	if len(hostNet) < 2 {
		t.Skip("the host has no interface besides lo: the test could not tell the views apart")
	}
	hostCgroup, _ := os.ReadDir("/sys/fs/cgroup")
	code := `import os
print(','.join(sorted(os.listdir('/sys/class/net'))))
print('ro' if os.statvfs('/sys').f_flag & 1 else 'rw')
top = [l.split() for l in open('/proc/self/mountinfo') if l.split()[4] == '/sys'][-1]
print(top[top.index('-') + 1])
cg = sorted(os.listdir('/sys/fs/cgroup')) if os.path.isdir('/sys/fs/cgroup') else []
print(','.join(cg))
print(all(os.statvfs(p).f_flag & 1 for p in ['/sys/fs/cgroup'] + ['/sys/fs/cgroup/' + c for c in cg]))
`
	for _, tc := range []struct {
		name string
		iso  Isolation
	}{
		{"network", Isolation{Namespaces: config.Namespaces{Network: true}}},
		{"network+user", Isolation{Namespaces: config.Namespaces{Network: true, User: true}}},
		{"network+pid+readOnly", Isolation{Namespaces: config.Namespaces{Network: true, PID: true}, ReadOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := py(t, code)
			spec.Dir = hostDir(t) // reachable by the user namespace's uid, outside the private /tmp
			out, st := isoRun(t, tc.iso, 0, spec)
			exitOK(t, out, st)
			l := strings.Split(strings.TrimSpace(out), "\n")
			if len(l) != 5 {
				t.Fatalf("unexpected output:\n%s", out)
			}
			if l[0] != "lo" {
				t.Errorf("/sys/class/net in the network namespace lists %q, want lo only (the host has %d interfaces)", l[0], len(hostNet))
			}
			if l[1] != "ro" || l[2] != "sysfs" {
				t.Errorf("/sys is %s %s, want a read-only sysfs", l[2], l[1])
			}
			if len(hostCgroup) > 0 {
				if l[3] == "" || l[4] != "True" {
					t.Errorf("/sys/fs/cgroup inside: %q (read-only: %s), want the host's %d entries, read-only", l[3], l[4], len(hostCgroup))
				}
				if n := len(strings.Split(l[3], ",")); n != len(hostCgroup) {
					t.Errorf("/sys/fs/cgroup inside has %d entries, the host %d", n, len(hostCgroup))
				}
			}
		})
	}
	// Baseline: a mount namespace without a network namespace keeps the
	// host's sysfs, which lists the host's interfaces.
	out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{Mount: true}}, 0, py(t, code))
	exitOK(t, out, st)
	if first := strings.SplitN(out, "\n", 2)[0]; first == "lo" {
		t.Fatalf("without a network namespace /sys/class/net lists only lo: the test cannot tell the views apart")
	}
}

// sysfsFallbackEnv makes TestNetworkNamespaceSysfsFallback the inner
// process: run in a mount namespace of its own.
const sysfsFallbackEnv = "MCP_PROCESS_TEST_SYSFS_FALLBACK"

// Where the kernel refuses a fresh sysfs (in a user namespace, when the
// server's own /sys is partly covered: "mount too revealing"), the stage
// puts an empty read-only tmpfs over /sys: the host's interfaces stay
// hidden. The test runs itself again in a private mount namespace (the
// host's mounts are untouched), covers /sys/kernel there, and launches with
// network + user namespaces from that process.
func TestNetworkNamespaceSysfsFallback(t *testing.T) {
	needRoot(t)
	code := `import os
print('class/net' if os.path.exists('/sys/class/net') else 'no class/net', len(os.listdir('/sys')))
print('ro' if os.statvfs('/sys').f_flag & 1 else 'rw')
top = [l.split() for l in open('/proc/self/mountinfo') if l.split()[4] == '/sys'][-1]
print(top[top.index('-') + 1])
`
	if os.Getenv(sysfsFallbackEnv) == "1" {
		// A tmpfs over a non-empty sysfs directory: from here on no sysfs
		// in this mount namespace is fully visible.
		if err := syscall.Mount("tmpfs", "/sys/kernel", "tmpfs", 0, "size=4k"); err != nil {
			t.Fatal(err)
		}
		spec := py(t, code)
		spec.Dir = hostDir(t)
		out, st := isoRun(t, Isolation{Namespaces: config.Namespaces{Network: true, User: true}}, 0, spec)
		exitOK(t, out, st)
		fmt.Printf("INNER:%q\n", out)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNetworkNamespaceSysfsFallback$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), sysfsFallbackEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS} // Go makes every mount private there
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("inner test: %v\n%s", err, b)
	}
	var inner string
	for _, l := range strings.Split(string(b), "\n") {
		if q, ok := strings.CutPrefix(l, "INNER:"); ok {
			inner, _ = strconv.Unquote(q)
		}
	}
	if want := "no class/net 0\nro\ntmpfs"; strings.TrimSpace(inner) != want {
		t.Fatalf("with the sysfs mount refused, /sys in the network namespace:\n%s\nwant\n%s\n(inner output:\n%s)", inner, want, b)
	}
}

// A jail whose /sys is the kernel's sysfs (bind-mounted in by its
// operator) gets the fresh sysfs too, mounted before the pivot: a host
// interface is not visible in it with a network namespace, and is without.
// The bind is made in a private mount namespace (the test runs itself
// again there), so the host's mounts are untouched.
func TestNetworkNamespaceSysfsInJail(t *testing.T) {
	needRoot(t)
	if os.Getenv(sysfsFallbackEnv) != "jail" {
		hostNet, _ := os.ReadDir("/sys/class/net")
		iface := ""
		for _, e := range hostNet {
			if e.Name() != "lo" {
				iface = e.Name()
			}
		}
		if iface == "" {
			t.Skip("the host has no interface besides lo: the test could not tell the views apart")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestNetworkNamespaceSysfsInJail$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), sysfsFallbackEnv+"=jail", "MCP_PROCESS_TEST_IFACE="+iface)
		cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
		b, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(b), "--- PASS: TestNetworkNamespaceSysfsInJail") {
			t.Fatalf("inner test: %v\n%s", err, b)
		}
		return
	}
	iface := os.Getenv("MCP_PROCESS_TEST_IFACE")
	jail := t.TempDir()
	for _, d := range []string{"bin", "work", "proc", "tmp", "sys"} {
		if err := os.Mkdir(filepath.Join(jail, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := syscall.Mount("/sys", filepath.Join(jail, "sys"), "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		t.Fatal(err)
	}
	// Gone before the jail's removal walks into it.
	t.Cleanup(func() { syscall.Unmount(filepath.Join(jail, "sys"), syscall.MNT_DETACH) })
	exe := buildProbe(t, filepath.Join(jail, "bin"), probeSrc)
	var st0 syscall.Stat_t
	if err := syscall.Stat(exe, &st0); err != nil {
		t.Fatal(err)
	}
	spec := &policy.Spec{Path: exe, Argv: []string{"probe", "/sys/class/net/" + iface}, Dir: "/work",
		Dev: uint64(st0.Dev), Ino: st0.Ino}
	for _, tc := range []struct {
		iso  Isolation
		seen string
	}{
		{Isolation{Root: jail, Namespaces: config.Namespaces{Network: true}}, "false"},
		{Isolation{Root: jail, ReadOnly: true, Namespaces: config.Namespaces{Network: true, PID: true}}, "false"},
		{Isolation{Root: jail}, "true"}, // baseline: the jail's sysfs is the host's
	} {
		out, st := isoRun(t, tc.iso, 0, spec)
		exitOK(t, out, st)
		if want := "/work\nbin proc sys tmp work \n" + tc.seen; strings.TrimSpace(out) != want {
			t.Fatalf("%+v: /sys/class/net/%s in the jail:\n%s\nwant\n%s", tc.iso, iface, out, want)
		}
	}
}

// The private view hides what a child could reach; what the stage itself
// cannot reach (a root server's 0700 /root seen from a user namespace) is
// out of the child's reach too, and must not fail the launch.
func TestPrivateViewSkipsWhatTheStageCannotSearch(t *testing.T) {
	needRoot(t)
	locked := filepath.Join(t.TempDir(), "locked")
	if err := os.MkdirAll(filepath.Join(locked, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(locked, 0o700)
	iso, err := IsolationFor(&config.Config{EnableNamespaces: true, Namespaces: config.Namespaces{User: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(iso.Private) == 0 {
		t.Fatal("no private view for a root server with a user namespace")
	}
	iso.Masked = append(iso.Masked, filepath.Join(locked, ".ssh"))
	spec := specFor(t, "true")
	spec.Dir = "/" // t.TempDir's parent is 0700: not for an unused uid
	out, st := isoRun(t, iso, 0, spec)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("launch with a hidden path the stage cannot search: %s, output %q", st, out)
	}
}

// A host whose /etc/resolv.conf is a link into /run (systemd-resolved)
// keeps name resolution in the child: the link's directory is bound back
// beneath the private /run.
func TestPrivateViewKeepsResolvConfBeneathRun(t *testing.T) {
	needRoot(t)
	dir := filepath.Join("/run", fmt.Sprintf("mcp-process-test-%d", os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte("nameserver 127.0.0.53\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.Symlink(filepath.Join(dir, "resolv.conf"), link); err != nil {
		t.Fatal(err)
	}
	old := hostFilesInRun
	hostFilesInRun = []string{link}
	defer func() { hostFilesInRun = old }()
	iso, err := IsolationFor(&config.Config{})
	if err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, "cat", filepath.Join(dir, "resolv.conf"))
	spec.Dir = "/"
	out, st := isoRun(t, iso, 0, spec)
	if st.ExitCode == nil || *st.ExitCode != 0 || !strings.Contains(out, "nameserver 127.0.0.53") {
		t.Fatalf("the resolver's file beneath /run: %s, output %q", st, out)
	}
	// Baseline: what is not bound back beneath /run is out of sight.
	hostFilesInRun = nil
	iso, _ = IsolationFor(&config.Config{})
	out, st = isoRun(t, iso, 0, spec)
	if st.ExitCode != nil && *st.ExitCode == 0 {
		t.Fatalf("baseline: a file beneath the private /run was readable: %q", out)
	}
}
