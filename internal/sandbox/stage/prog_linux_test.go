//go:build linux && (amd64 || arm64)

package stage

import (
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
)

// zygoteLaunch plans c in this process as a zygote does, forks its child
// (a child of the test process, so the test reaps it) and returns the
// zygote's reply, the test's end of the child's report socket and the
// child's stdout.
func zygoteLaunch(t *testing.T, c *Config, exe string) (reply []byte, ours *os.File, out *os.File) {
	t.Helper()
	if e := zygoteInit(); e != 0 {
		t.Fatalf("zygoteInit: errno %d", e)
	}
	zy.serverPid, zy.cloneFlags = uintptr(os.Getpid()), sigCHLD
	sp, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours = os.NewFile(uintptr(sp[0]), "ours")
	theirs := os.NewFile(uintptr(sp[1]), "theirs")
	defer theirs.Close()
	x, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fds := []int{int(x.Fd()), int(null.Fd()), int(w.Fd()), int(w.Fd()), int(theirs.Fd())}
	// Distinct descriptors, as SCM_RIGHTS would give.
	for i := range fds {
		d, err := syscall.Dup(fds[i])
		if err != nil {
			t.Fatal(err)
		}
		syscall.CloseOnExec(d)
		fds[i] = d
	}
	reply = serveLaunch(c, fds)
	for _, fd := range fds {
		syscall.Close(fd)
	}
	t.Cleanup(func() { ours.Close(); r.Close() })
	return reply, ours, r
}

// childPid is the pid of a MsgPid reply.
func childPid(t *testing.T, reply []byte) int {
	t.Helper()
	if len(reply) != 5 || reply[0] != MsgPid {
		if len(reply) > 3 && reply[0] == MsgError {
			se, _ := DecodeError(reply[3:])
			t.Fatalf("planning failed: %v", se)
		}
		t.Fatalf("reply %q, want MsgPid", reply)
	}
	return int(getU32(reply[1:]))
}

// report reads one report of the child (MsgError with its StepError).
func report(t *testing.T, r io.Reader) (byte, *StepError) {
	t.Helper()
	var k [1]byte
	if _, err := io.ReadFull(r, k[:]); err != nil {
		return 0, nil // EOF
	}
	if k[0] != MsgError {
		return k[0], nil
	}
	var n [2]byte
	io.ReadFull(r, n[:])
	body := make([]byte, ErrorSize(n))
	io.ReadFull(r, body)
	se, err := DecodeError(body)
	if err != nil {
		t.Fatal(err)
	}
	return MsgError, se
}

func waitStatus(t *testing.T, pid int) syscall.WaitStatus {
	t.Helper()
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
}

func TestZygoteChildRunsProgramAndExecs(t *testing.T) {
	c := &Config{Flags: FlagCaps, Dir: "/", Argv: []string{"echo", "hi", "there"}, Env: []string{"A=1"},
		Rlimits: []Rlimit{{Resource: rlimitCore, Cur: 0, Max: KeepMax}}}
	reply, ours, out := zygoteLaunch(t, c, "/bin/echo")
	pid := childPid(t, reply)
	if k, se := report(t, ours); k != MsgReady {
		t.Fatalf("first report %q (%v), want MsgReady", k, se)
	}
	ours.Write([]byte{MsgGo})
	if k, se := report(t, ours); k != MsgExec {
		t.Fatalf("report after go %q (%v), want MsgExec", k, se)
	}
	if k, _ := report(t, ours); k != 0 {
		t.Fatalf("report after the exec %q, want EOF (the socket closes with the exec)", k)
	}
	if ws := waitStatus(t, pid); !ws.Exited() || ws.ExitStatus() != 0 {
		t.Fatalf("child ended %v, want exit 0", ws)
	}
	b := make([]byte, 64)
	n, _ := out.Read(b)
	if got := string(b[:n]); got != "hi there\n" {
		t.Fatalf("output %q", got)
	}
}

func TestZygoteChildReportsStepError(t *testing.T) {
	c := &Config{Flags: FlagCaps, Dir: "/nonexistent-zygote-dir", Argv: []string{"true"}}
	reply, ours, _ := zygoteLaunch(t, c, "/bin/true")
	pid := childPid(t, reply)
	k, se := report(t, ours)
	if k != MsgError || se.Step != StepChdir || se.Errno != uintptr(syscall.ENOENT) {
		t.Fatalf("report %q %+v, want the chdir step with ENOENT", k, se)
	}
	if !strings.Contains(se.Detail, "/nonexistent-zygote-dir") {
		t.Fatalf("detail %q does not name the directory", se.Detail)
	}
	if ws := waitStatus(t, pid); !ws.Exited() || ws.ExitStatus() != ExitFailed {
		t.Fatalf("child ended %v, want exit %d", ws, ExitFailed)
	}
}

func TestZygoteChildGateWithdrawn(t *testing.T) {
	c := &Config{Flags: FlagCaps, Argv: []string{"true"}}
	reply, ours, _ := zygoteLaunch(t, c, "/bin/true")
	pid := childPid(t, reply)
	if k, _ := report(t, ours); k != MsgReady {
		t.Fatalf("first report %q, want MsgReady", k)
	}
	syscall.Shutdown(int(ours.Fd()), syscall.SHUT_WR) // EOF at the gate: no
	k, se := report(t, ours)
	if k != MsgError || se.Step != StepGate || se.Errno != 0 || se.Detail != "the launch was withdrawn" {
		t.Fatalf("report %q %+v, want the gate step, withdrawn", k, se)
	}
	if ws := waitStatus(t, pid); !ws.Exited() || ws.ExitStatus() != ExitFailed {
		t.Fatalf("child ended %v, want exit %d", ws, ExitFailed)
	}
}

func TestZygoteChildRlimit(t *testing.T) {
	c := &Config{Argv: []string{"sh", "-c", "ulimit -n"}, Rlimits: []Rlimit{{Resource: rlimitNofile, Cur: 77, Max: 77}}}
	reply, ours, out := zygoteLaunch(t, c, "/bin/sh")
	pid := childPid(t, reply)
	report(t, ours)
	ours.Write([]byte{MsgGo})
	for k, _ := report(t, ours); k != 0; k, _ = report(t, ours) {
	}
	waitStatus(t, pid)
	b := make([]byte, 64)
	n, _ := out.Read(b)
	if got := strings.TrimSpace(string(b[:n])); got != "77" {
		t.Fatalf("ulimit -n in the child: %q, want 77", got)
	}
}

func TestZygotePlanningErrorAndFallback(t *testing.T) {
	reply, _, _ := zygoteLaunch(t, &Config{Argv: []string{"a\x00b"}}, "/bin/true")
	if reply[0] != MsgError {
		t.Fatalf("reply %q, want MsgError", reply)
	}
	se, err := DecodeError(reply[3:])
	if err != nil || se.Step != StepExec || se.Errno != eINVAL {
		t.Fatalf("planning error %+v (%v), want the exec step, EINVAL", se, err)
	}
	for _, c := range []*Config{{Hostname: "x"}, {Flags: FlagProc}, {Flags: FlagSysfs}, {Flags: FlagReadOnly}, {Flags: FlagExecScope, Exec: []string{"/tmp/x"}, Private: []string{"/tmp"}}, {Root: "/x"}, {MACPath: "/x"}, {Flags: FlagTerminal}} {
		if reply, _, _ := zygoteLaunch(t, c, "/bin/true"); len(reply) != 1 || reply[0] != MsgFallback {
			t.Errorf("config %+v: reply %q, want MsgFallback", c, reply)
		}
	}
}

func TestZygoteChildPrivateTmp(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounts need root")
	}
	f, err := os.CreateTemp("/tmp", "zygote-host-*")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	c := &Config{Flags: FlagMountNS | FlagPrivate, Private: []string{"/tmp", "/nonexistent-private"},
		Masked: []string{"/nonexistent-masked"}, Argv: []string{"sh", "-c", "ls -A /tmp; echo end"}}
	reply, ours, out := zygoteLaunch(t, c, "/bin/sh")
	pid := childPid(t, reply)
	if k, se := report(t, ours); k != MsgReady {
		t.Fatalf("first report %q (%v), want MsgReady", k, se)
	}
	ours.Write([]byte{MsgGo})
	for k, _ := report(t, ours); k != 0; k, _ = report(t, ours) {
	}
	waitStatus(t, pid)
	b := make([]byte, 4096)
	n, _ := out.Read(b)
	if got := string(b[:n]); got != "end\n" {
		t.Fatalf("the child's /tmp lists %q, want it empty (a fresh tmpfs)", got)
	}
	if _, err := os.Stat(f.Name()); err != nil {
		t.Fatalf("the host's /tmp lost its file: %v", err)
	}
}

// A zygote that narrowed its bounding set serves only launches that keep
// no capability it dropped and that shape their capability sets; the
// others go to a stage, which has the whole bounding set.
func TestZygoteNarrowedCapsFallback(t *testing.T) {
	defer func(k uint64, n bool) { zy.keepCaps, zy.narrowed = k, n }(zy.keepCaps, zy.narrowed)
	zy.keepCaps, zy.narrowed = 1<<10, true
	for _, c := range []*Config{{Flags: FlagCaps, CapKeep: 1<<10 | 1<<5, Argv: []string{"true"}}, {Argv: []string{"true"}}} {
		if reply, _, _ := zygoteLaunch(t, c, "/bin/true"); len(reply) != 1 || reply[0] != MsgFallback {
			t.Errorf("config %+v: reply %q, want MsgFallback", c, reply)
		}
	}
	reply, ours, _ := zygoteLaunch(t, &Config{Flags: FlagCaps, CapKeep: 1 << 10, Argv: []string{"true"}}, "/bin/true")
	pid := childPid(t, reply)
	if k, se := report(t, ours); k != MsgReady {
		t.Fatalf("report %q %+v, want MsgReady", k, se)
	}
	syscall.Shutdown(int(ours.Fd()), syscall.SHUT_WR) // withdrawn at its gate
	waitStatus(t, pid)
}

func TestZygoteEnvUint(t *testing.T) {
	for _, tc := range []struct {
		kv          string
		v           uint64
		found, good bool
	}{
		{"K=0", 0, true, true},
		{"K=1056", 1056, true, true},
		{"K=9223372036854775807", 1<<63 - 1, true, true},
		{"K=9223372036854775808", 0, true, false},
		{"K=99999999999999999999", 0, true, false},
		{"K=", 0, true, false},
		{"K=1x", 0, true, false},
		{"K=-1", 0, true, false},
		{"KX=1", 0, false, false},
		{"K", 0, false, false},
		{"J=1", 0, false, false},
	} {
		v, found, good := envUint([]byte(tc.kv), "K")
		if found != tc.found || good != tc.good || (good && v != tc.v) {
			t.Errorf("%q: %d %v %v, want %d %v %v", tc.kv, v, found, good, tc.v, tc.found, tc.good)
		}
	}
}

// envHex reads ZygoteSeccompEnv's value: lower-case hexadecimal, whole
// bytes; anything else is found but not good (the zygote then refuses to
// start).
func TestEnvHex(t *testing.T) {
	for _, tc := range []struct {
		kv          string
		v           string
		found, good bool
	}{
		{"K=", "", true, true},
		{"K=00ff7f", "\x00\xff\x7f", true, true},
		{"K=0", "", true, false},
		{"K=FF", "", true, false},
		{"K=0g", "", true, false},
		{"KX=00", "", false, false},
		{"K", "", false, false},
	} {
		v, found, good := envHex([]byte(tc.kv), "K")
		if found != tc.found || good != tc.good || (good && string(v) != tc.v) {
			t.Errorf("%q: %x %v %v, want %x %v %v", tc.kv, v, found, good, tc.v, tc.found, tc.good)
		}
	}
}
