//go:build linux

package seccomp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestProgramUnknownProfile(t *testing.T) {
	for _, p := range []string{"none", "paranoid", "Strict"} {
		_, err := Program(p, false)
		var e *errcode.Error
		if !errors.As(err, &e) || e.Code != errcode.InvalidInput || e.Layer != string(Layer) {
			t.Errorf("Program(%q) = %v, want INVALID_INPUT from layer seccomp", p, err)
		}
	}
}

// programs is every program: each profile and the baseline alone, with and
// without allowUnixSockets.
type programKey struct {
	profile   string
	allowUnix bool
}

func (k programKey) String() string {
	s := k.profile
	if s == Baseline {
		s = "baseline"
	}
	if k.allowUnix {
		s += "+unix"
	}
	return s
}

func programs() []programKey {
	var ks []programKey
	for _, p := range append(Profiles(), Baseline) {
		ks = append(ks, programKey{p, false}, programKey{p, true})
	}
	return ks
}

// The program starts with the architecture and ABI checks, before any rule:
// a foreign ABI is killed, x32 is EPERM, and (strict) numbers newer than the
// table are ENOSYS; then io_uring_setup, AF_VSOCK and (without
// allowUnixSockets) socket(AF_UNIX) are refused.
func TestProgramPrologue(t *testing.T) {
	info := runningArch()
	for _, k := range programs() {
		profile := k.profile
		t.Run(k.String(), func(t *testing.T) {
			b, err := Program(profile, k.allowUnix)
			if err != nil {
				t.Fatal(err)
			}
			if len(b)%8 != 0 || len(b)/8 > MaxInstructions {
				t.Fatalf("program of %d bytes: want whole instructions, at most %d", len(b), MaxInstructions)
			}
			ins, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			want := []bpf.Instruction{
				bpf.LoadAbsolute{Off: 4, Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_KILL_PROCESS},
				bpf.LoadAbsolute{Off: 0, Size: 4},
			}
			if runtime.GOARCH == "amd64" {
				if info.ID != 0xc000003e { // AUDIT_ARCH_X86_64
					t.Fatalf("amd64 audit arch %#x", info.ID)
				}
				want = append(want,
					bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: 0x40000000, SkipFalse: 1},
					bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)})
			}
			if profile == Strict {
				want = append(want,
					bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(maxNr(info)), SkipFalse: 1},
					bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)})
			}
			want = append(want,
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["io_uring_setup"]), SkipFalse: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socket"]), SkipTrue: 1},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socketpair"]), SkipFalse: 3},
				bpf.LoadAbsolute{Off: 16, Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 40, SkipFalse: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
				bpf.LoadAbsolute{Off: 0, Size: 4},
				// ioctl(TIOCSTI) and ioctl(TIOCLINUX): low word of args[1].
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["ioctl"]), SkipFalse: 5},
				bpf.LoadAbsolute{Off: 24, Size: 4},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x5412, SkipTrue: 1},
				bpf.JumpIf{Cond: bpf.JumpEqual, Val: 0x541C, SkipFalse: 1},
				bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
				bpf.LoadAbsolute{Off: 0, Size: 4})
			if !k.allowUnix {
				want = append(want,
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socket"]), SkipFalse: 4},
					bpf.LoadAbsolute{Off: 16, Size: 4},
					bpf.JumpIf{Cond: bpf.JumpEqual, Val: 1, SkipFalse: 1},
					bpf.RetConstant{Val: unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)},
					bpf.LoadAbsolute{Off: 0, Size: 4})
			}
			if profile == Baseline {
				want = append(want, bpf.RetConstant{Val: unix.SECCOMP_RET_ALLOW})
				if len(ins) != len(want) {
					t.Fatalf("the baseline has %d instructions, want %d: %v", len(ins), len(want), ins)
				}
			}
			// bpf.Disassemble normalises "jeq k, +1, +0"; compare through raw form.
			gotRaw, _ := bpf.Assemble(ins[:len(want)])
			wantRaw, _ := bpf.Assemble(want)
			if !slices.Equal(gotRaw, wantRaw) {
				t.Fatalf("prologue:\n got %v\nwant %v", ins[:len(want)], want)
			}
			// Cached and copied: a caller that scribbles on its copy does not
			// change the next one.
			b[0] ^= 0xff
			again, _ := Program(profile, k.allowUnix)
			if again[0] == b[0] {
				t.Fatal("Program returned the cached slice itself")
			}
			all, _ := Instructions(profile, k.allowUnix)
			if len(all) != len(ins) {
				t.Fatalf("Instructions has %d, Program %d", len(all), len(ins))
			}
		})
	}
}

// model is what each profile must answer, written plainly.
func model(profile string, allowUnix bool, info *arch.Info, archID uint32, nr uint32, arg0 uint64) uint32 {
	const (
		allow  = unix.SECCOMP_RET_ALLOW
		eperm  = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
		enosys = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	)
	if archID != uint32(info.ID) {
		return unix.SECCOMP_RET_KILL_PROCESS
	}
	if info.ID == arch.X86_64.ID && nr >= 0x40000000 {
		return eperm
	}
	name := info.SyscallNumbers[int(nr)]
	lo := uint32(arg0)
	if (name == "socket" || name == "socketpair") && lo == unix.AF_VSOCK {
		return eperm // every program; the kernel reads the family as an int
	}
	if name == "socket" && lo == unix.AF_UNIX && !allowUnix {
		return eperm // socketpair(AF_UNIX) stays allowed
	}
	if name == "io_uring_setup" {
		return eperm // every program
	}
	newNS := lo&cloneNewMask != 0
	okPersona := slices.Contains(personalityAllowed, arg0)
	switch profile {
	case Baseline:
		return allow
	case Permissive:
		if slices.Contains(permissiveDenied, name) {
			return eperm
		}
		return allow
	case Moderate:
		switch {
		case name == "clone3":
			return enosys
		case slices.Contains(permissiveDenied, name), slices.Contains(moderateDenied, name),
			name == "clone" && newNS, name == "personality" && !okPersona:
			return eperm
		}
		return allow
	default:
		switch {
		case int(nr) > maxNr(info):
			return enosys
		case name == "clone3":
			return enosys
		case slices.Contains(strictAllowed, name), name == "clone" && !newNS, name == "personality" && okPersona:
			return allow
		}
		return eperm
	}
}

// seccompData lays out struct seccomp_data for x/net/bpf's VM, which loads
// words big-endian: each word is stored as the value the kernel would load
// at that offset on this (little-endian) machine.
func seccompData(nr, archID uint32, args ...uint64) []byte {
	b := make([]byte, 64)
	binary.BigEndian.PutUint32(b[0:], nr)
	binary.BigEndian.PutUint32(b[4:], archID)
	for i, a := range args {
		binary.BigEndian.PutUint32(b[16+8*i:], uint32(a))
		binary.BigEndian.PutUint32(b[20+8*i:], uint32(a>>32))
	}
	return b
}

// Every system call number, through the real program bytes, answers what the
// model says; clone and personality with the edge-case arguments too.
func TestProgramMatchesModel(t *testing.T) {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("the VM layout below assumes a little-endian machine")
	}
	info := runningArch()
	// 56/220 and 135/92 are clone's and personality's numbers on amd64/arm64:
	// the leftover-argument trap described at policyFor; 135 is also 0x87.
	// 40 is AF_VSOCK; 1<<32|40 is AF_VSOCK to the kernel too (an int); 1 and
	// 1<<32|1 are AF_UNIX.
	args := []uint64{0, 1, 1<<32 | 1, 2, 6, 8, 0x11, 40, 1<<32 | 40, 41, 0x28 << 8, 56, 135, 220, 92, 435, 0x20000, 0x20008, 0xffffffff, 1 << 32,
		0xffffffffffffffff, 1<<32 | 8,
		unix.CLONE_VM | unix.CLONE_FS | unix.CLONE_FILES | unix.CLONE_SIGHAND | unix.CLONE_THREAD |
			unix.CLONE_SYSVSEM | unix.CLONE_SETTLS | unix.CLONE_PARENT_SETTID | unix.CLONE_CHILD_CLEARTID,
		unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD), 1<<32 | unix.CLONE_NEWNET,
	}
	for _, f := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER,
		unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP} {
		if f&cloneNewMask == 0 {
			t.Fatalf("cloneNewMask misses %#x", f)
		}
		args = append(args, f|uint64(unix.SIGCHLD))
	}
	nrs := []uint32{0x40000000, 0x40000000 | 39, 0x7fffffff, 0xffffffff, 1000, 4096}
	for nr := 0; nr <= maxNr(info)+20; nr++ {
		nrs = append(nrs, uint32(nr))
	}
	for _, k := range programs() {
		profile := k.profile
		b, err := Program(profile, k.allowUnix)
		if err != nil {
			t.Fatal(err)
		}
		ins, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		vm, err := bpf.NewVM(ins)
		if err != nil {
			t.Fatal(err)
		}
		failures := 0
		for _, archID := range []uint32{uint32(info.ID), 0x40000003 /* i386 */, 0x40000028 /* arm */} {
			for _, nr := range nrs {
				name := info.SyscallNumbers[int(nr)]
				argSet := args[:1]
				if name == "clone" || name == "personality" || name == "socket" || name == "socketpair" || name == "" {
					argSet = args
				}
				for _, a := range argSet {
					got, err := vm.Run(seccompData(nr, archID, a))
					if err != nil {
						t.Fatal(err)
					}
					if want := model(profile, k.allowUnix, info, archID, nr, a); uint32(got) != want && failures < 20 {
						failures++
						t.Errorf("%s: arch %#x nr %d (%s) arg0 %#x: program says %#x, model %#x",
							k, archID, nr, name, a, uint32(got), want)
					}
				}
			}
		}
	}
}

func TestAvailable(t *testing.T) {
	ok, why := Available()
	if why == "" {
		t.Fatal("Available gave no reason")
	}
	t.Logf("Available() = %v, %q", ok, why)
	if !ok && os.Getuid() == 0 {
		if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err == nil {
			t.Fatalf("prctl(PR_GET_SECCOMP) works but Available says %q", why)
		}
	}
}

// --- real kernel tests: a helper process installs the filter and makes one call.

var helper struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helper.dir != "" {
		os.RemoveAll(helper.dir)
	}
	os.Exit(code)
}

// helperBinary builds testdata/helper (static, CGO_ENABLED=0) once.
func helperBinary(t *testing.T) string {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skip("seccomp unavailable: " + why)
	}
	helper.once.Do(func() {
		helper.dir, helper.err = os.MkdirTemp("", "seccomp-helper-")
		if helper.err != nil {
			return
		}
		helper.path = filepath.Join(helper.dir, "helper")
		cmd := exec.Command("go", "build", "-o", helper.path, "./testdata/helper")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			helper.err = fmt.Errorf("building the helper: %v\n%s", err, out)
			return
		}
		for _, k := range programs() {
			b, err := Program(k.profile, k.allowUnix)
			if err != nil {
				helper.err = err
				return
			}
			if err := os.WriteFile(filepath.Join(helper.dir, k.String()+".bpf"), b, 0o600); err != nil {
				helper.err = err
				return
			}
		}
	})
	if helper.err != nil {
		t.Fatal(helper.err)
	}
	return helper.path
}

type outcome struct {
	errno  int            // the call's errno (0: it succeeded); -1 if none printed
	signal syscall.Signal // the signal that killed the helper, 0 if none
	exit   int
	out    string
}

func (o outcome) String() string {
	if o.signal != 0 {
		return "killed by " + o.signal.String()
	}
	if o.errno >= 0 {
		return fmt.Sprintf("errno %d (%v)", o.errno, syscall.Errno(o.errno))
	}
	return fmt.Sprintf("exit %d: %s", o.exit, o.out)
}

// runHelper runs the helper under profile ("" = no filter) in a new session
// (no controlling terminal for vhangup to hang up).
func runHelper(t *testing.T, profile string, args ...string) outcome {
	t.Helper()
	o := runHelperRaw(t, profile, args...)
	if o.signal == 0 && o.errno < 0 && args[0] != "exec" {
		t.Fatalf("helper %v under %q printed no errno (exit %d): %s", args, profile, o.exit, o.out)
	}
	return o
}

// runHelperRaw is runHelper that accepts a helper which printed no errno
// (it crashed in a way the Go runtime reports itself).
func runHelperRaw(t *testing.T, profile string, args ...string) outcome {
	t.Helper()
	bin := helperBinary(t)
	filter := "-"
	if profile != "" {
		filter = filepath.Join(helper.dir, profile+".bpf")
	}
	cmd := exec.Command(bin, append([]string{filter}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("helper %v under %q did not finish in 2 minutes: %s", args, profile, out.String())
	}
	o := outcome{errno: -1, out: out.String(), exit: cmd.ProcessState.ExitCode()}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		o.signal = ws.Signal()
	} else if err != nil && o.exit < 0 {
		t.Fatalf("helper %v: %v", args, err)
	}
	for line := range strings.SplitSeq(o.out, "\n") {
		if v, ok := strings.CutPrefix(line, "errno="); ok {
			o.errno, _ = strconv.Atoi(v)
		}
	}
	return o
}

const (
	expEPERM  = "EPERM"
	expENOSYS = "ENOSYS"
	expKill   = "killed"
	expSame   = "same as without a filter"
)

func TestKernelEnforcesProfiles(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: the baseline of mount, swapon, reboot... must be a capability-checked failure other than EPERM")
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	blockedEverywhere := []string{"mount", "umount2", "ptrace", "kexec_load", "bpf", "keyctl", "perf_event_open",
		"userfaultfd", "reboot", "swapon", "init_module"}
	const base = "baseline"
	cases := map[string]map[string]string{Permissive: {}, Moderate: {}, Strict: {}, base: {}}
	for p := range cases {
		for _, a := range blockedEverywhere {
			cases[p][a] = expEPERM
			if p == base {
				cases[p][a] = expSame
			}
		}
		cases[p]["x32-getpid"] = expEPERM
		cases[p]["getpid"] = expSame
		cases[p]["fork"] = expSame
		cases[p]["clone-plain"] = expSame
		cases[p]["personality-query"] = expSame
		cases[p]["mkfifo"] = expSame
		cases[p]["io_uring_setup"] = expEPERM
		cases[p]["ioctl-tiocsti"] = expEPERM
		cases[p]["ioctl-tiocsti-hi"] = expEPERM
		cases[p]["ioctl-tioclinux"] = expEPERM
		cases[p]["ioctl-tcgets"] = expSame
		if runtime.GOARCH == "amd64" {
			cases[p]["int80-getpid"] = expKill
		}
	}
	for a, exp := range map[string]string{"unshare-uts": expSame, "unshare-user": expSame, "setns": expSame,
		"clone-newnet": expSame, "clone3": expSame, "personality-bsd": expSame,
		"syslog": expSame, "vhangup": expSame, "chroot": expSame} {
		cases[Permissive][a] = exp
		cases[base][a] = exp
	}
	for a, exp := range map[string]string{"unshare-uts": expEPERM, "unshare-user": expEPERM, "setns": expEPERM,
		"clone-newnet": expEPERM, "clone3": expENOSYS, "personality-bsd": expEPERM,
		"syslog": expSame, "vhangup": expSame, "chroot": expSame} {
		cases[Moderate][a] = exp
		cases[Strict][a] = exp
	}
	for _, a := range []string{"syslog", "vhangup", "chroot"} {
		cases[Strict][a] = expEPERM
	}
	// The socket rules, in every program; with allowUnixSockets ("+unix")
	// only socket(AF_UNIX) changes.
	for _, p := range []string{Permissive, Moderate, Strict, base} {
		cases[p+"+unix"] = map[string]string{"io_uring_setup": expEPERM}
		for _, q := range []string{p, p + "+unix"} {
			cases[q]["socket-vsock"] = expEPERM
			cases[q]["socket-vsock-hi"] = expEPERM
			cases[q]["socketpair-vsock"] = expEPERM
			cases[q]["socket-inet"] = expSame
			cases[q]["socketpair-unix"] = expSame
			cases[q]["socket-unix"] = expEPERM
			cases[q]["socket-unix-hi"] = expEPERM
			cases[q]["socket-unix-dgram"] = expEPERM
		}
		for _, a := range []string{"socket-unix", "socket-unix-hi", "socket-unix-dgram"} {
			cases[p+"+unix"][a] = expSame
		}
	}

	baseline := map[string]outcome{}
	for _, p := range slices.Sorted(maps.Keys(cases)) {
		for _, action := range slices.Sorted(func(yield func(string) bool) {
			for a := range cases[p] {
				if !yield(a) {
					return
				}
			}
		}) {
			exp := cases[p][action]
			t.Run(p+"/"+action, func(t *testing.T) {
				args := []string{action}
				if action == "mkfifo" {
					os.Remove(fifo)
					args = append(args, fifo)
				}
				base, ok := baseline[action]
				if !ok && action == "int80-getpid" {
					// Without i386 emulation (ia32_emulation=false, or a
					// kernel built without it) int 0x80 is a general
					// protection fault: SIGSEGV, reported by the runtime.
					base = runHelperRaw(t, "", args...)
					if base.errno < 0 && strings.Contains(base.out, "SIGSEGV") {
						t.Skipf("this kernel has no i386 emulation (int 0x80 faults without any filter)")
					}
					baseline[action] = base
				} else if !ok {
					base = runHelper(t, "", args...)
					baseline[action] = base
					os.Remove(fifo)
				}
				if action == "int80-getpid" && base.errno != 0 {
					t.Skipf("this kernel has no i386 emulation (int 0x80 gave %v)", base)
				}
				got := runHelper(t, p, args...)
				switch exp {
				case expEPERM, expENOSYS:
					want := unix.EPERM
					if exp == expENOSYS {
						want = unix.ENOSYS
					}
					if base.errno == int(want) {
						t.Skipf("without a filter %s already fails with %v: the test could not tell", action, want)
					}
					if got.errno != int(want) {
						t.Fatalf("%s under %s: %v, want %v (without a filter: %v)", action, p, got, want, base)
					}
				case expKill:
					if got.signal != unix.SIGSYS {
						t.Fatalf("%s under %s: %v, want killed by SIGSYS (without a filter: %v)", action, p, got, base)
					}
				case expSame:
					if got.errno != base.errno || got.signal != 0 {
						t.Fatalf("%s under %s: %v, want what it gives without a filter: %v", action, p, got, base)
					}
				}
				if action == "mkfifo" {
					if fi, err := os.Stat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
						t.Fatalf("mkfifo under %s made no FIFO: %v", p, err)
					}
				}
			})
		}
	}
}

// Ordinary programs still work under every profile: the helper installs the
// filter and then execs them, as the init stage does.
func TestOrdinaryProgramsRun(t *testing.T) {
	type prog struct {
		name string
		argv []string
		want string // in the output
	}
	progs := []prog{
		{"ls", []string{"/bin/ls", "/"}, "etc"},
		{"cat", []string{"/bin/cat", "/etc/hostname"}, ""},
		{"sh-pipe", []string{"/bin/sh", "-c", "echo one | cat; ls / >/dev/null && echo two"}, "one\ntwo"},
		{"sort", []string{"/usr/bin/env", "sort", "--version"}, "sort"},
		{"python3", []string{"/usr/bin/python3", "-c", "print(1)"}, "1"},
		{"python3-threads-subprocess", []string{"/usr/bin/python3", "-c",
			"import subprocess, threading, tempfile, os\n" +
				"t = threading.Thread(target=lambda: None); t.start(); t.join()\n" +
				"subprocess.run(['true'], check=True)\n" +
				"d = tempfile.mkdtemp(); os.rmdir(d); print('py-ok')"}, "py-ok"},
		{"git-version", []string{"/usr/bin/git", "--version"}, "git version"},
		{"git-init", []string{"/usr/bin/git", "init", "-q", "REPO"}, ""},
		{"node", []string{"/usr/bin/node", "-e", "1"}, ""},
		{"node-fs-child", []string{"/usr/bin/node", "-e",
			"require('fs').readFileSync('/etc/hostname'); require('child_process').execFileSync('/bin/true');" +
				"setTimeout(() => console.log('node-ok'), 10)"}, "node-ok"},
	}
	for _, profile := range []string{Strict, Moderate, Permissive, "baseline", "baseline+unix"} {
		for _, p := range progs {
			t.Run(profile+"/"+p.name, func(t *testing.T) {
				if _, err := os.Stat(p.argv[0]); err != nil {
					t.Skipf("%s is not installed", p.argv[0])
				}
				argv := slices.Clone(p.argv)
				for i, a := range argv {
					if a == "REPO" {
						argv[i] = filepath.Join(t.TempDir(), "repo")
					}
				}
				got := runHelper(t, profile, append([]string{"exec"}, argv...)...)
				if got.signal != 0 || got.exit != 0 {
					t.Fatalf("%v under %s: %v\n%s", argv, profile, got, got.out)
				}
				if !strings.Contains(got.out, p.want) {
					t.Fatalf("%v under %s printed %q, want it to contain %q", argv, profile, got.out, p.want)
				}
			})
		}
	}
}
