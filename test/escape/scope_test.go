//go:build linux

package escape

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SPEC 7.1: a root server's children are never host root (uid 65534 by
// default), and every child is in a Landlock domain of its own, scoped for
// signals and abstract unix sockets, which also refuses ptrace of any
// process outside it. The server is non-dumpable. These attacks are the
// ones a review made against the default profile.

// asChildUser runs cmd as the children's host uid/gid (65534 under a root
// server, the server's own under an unprivileged one), with no
// supplementary groups: the same-uid baselines.
func asChildUser(cmd *exec.Cmd) *exec.Cmd { return as(childCred(), cmd) }

// asNobody runs cmd as uid/gid 65534 with no supplementary groups (in
// every mode; asChildUser follows the mode).
//
//lint:ignore U1000 kept for the tests of branches that still use it
func asNobody(cmd *exec.Cmd) *exec.Cmd {
	return as(&syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}, cmd)
}

// asUnprivileged runs cmd as the unprivileged server of the tests that
// always attack one (unprivilegedCred).
func asUnprivileged(cmd *exec.Cmd) *exec.Cmd { return as(unprivilegedCred(), cmd) }

// needScope skips where the kernel cannot scope a Landlock domain (the
// server then says so at start and in doctor).
func needScope(t *testing.T) {
	t.Helper()
	out, err := exec.Command(serverBin, "doctor", "--json").Output()
	if err != nil {
		t.Fatalf("doctor: %v", err)
	}
	var doc struct {
		Features []struct {
			Name      string `json:"name"`
			Available bool   `json:"available"`
			Detail    string `json:"detail"`
		} `json:"features"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("doctor --json: %v", err)
	}
	for _, f := range doc.Features {
		if f.Name == "landlock-scope" {
			if !f.Available {
				t.Skipf("this kernel cannot scope Landlock domains (doctor: %s)", f.Detail)
			}
			return
		}
	}
	t.Fatal("doctor does not report landlock-scope")
}

// --- a root server's children are not host root ---

// notRootIdentity: why the identity layer is a root server's alone.
const notRootIdentity = "the layer is a root server's children not being host root; an unprivileged server's children are the server's own uid by design (SPEC 7.1), and the probe run directly by that uid fails too: there is no baseline"

func TestEscape_CorePatternOpenForWriting_identity(t *testing.T) {
	rootServerOnly(t, notRootIdentity)
	e := newEnv(t)
	const p = "/proc/sys/kernel/core_pattern"
	r := e.attack(t, e.config(), probeBin, "open-write", p)
	stopped(t, r, "EACCES", "identity: the child is uid 65534, not root")
	escaped(t, direct(t, probe("open-write", p)), "identity (the probe run directly by root; nothing is written)")
}

// cgroupRoot is the root of a hierarchy the launches' groups live in.
func cgroupRoot(t *testing.T) string {
	t.Helper()
	for _, d := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		if _, err := os.Stat(filepath.Join(d, "cgroup.procs")); err == nil {
			return d
		}
	}
	t.Skip("no cgroup hierarchy mounted")
	return ""
}

func TestEscape_CgroupSelfMoveToRoot_identity(t *testing.T) {
	rootServerOnly(t, notRootIdentity)
	e := newEnv(t)
	root := cgroupRoot(t)
	r := e.attack(t, e.config(), probeBin, "cgroup-join", root)
	stopped(t, r, "EACCES", "identity: the hierarchy's cgroup.procs belongs to root")
	escaped(t, direct(t, probe("cgroup-join", root)), "identity (the probe run directly by root)")
}

// --- the server: root server ---

func TestEscape_ServerFromChild_rootServer(t *testing.T) {
	rootServerOnly(t, "ServerFromChild_unprivilegedServer is this attack against an unprivileged server, with same-uid baselines")
	e := newEnv(t)
	for _, a := range [][]string{
		{"pidfd-getfd", "ppid", "1"}, // the server's stdout: the MCP stream
		{"ptrace-pid", "ppid"},
		{"read-environ", "ppid"},
		{"signal", "ppid"},
	} {
		r := e.attack(t, e.config(), probeBin, a...)
		stopped(t, r, "", "identity and Landlock domain ("+a[0]+" of the root server)")
		if r.Errno != "EPERM" && r.Errno != "EACCES" {
			t.Fatalf("%s: want EPERM or EACCES: %s", a[0], r)
		}
	}
}

// --- the server: unprivileged server (same uid as its children) ---

// unprivilegedServerWhat: the tests below attack an unprivileged server in
// both modes.
const unprivilegedServerWhat = "an unprivileged server (uid 65534, or the mode's unprivileged server), whose children are its own uid"

// runUnprivileged runs `mcp-process run` as the unprivileged server
// (unprivilegedCred: 65534 in the root-server mode) and returns the probe's
// result. The env must be e.ownedByUnprivileged.
func (e *testEnv) runUnprivileged(t *testing.T, cfg map[string]any, args ...string) result {
	t.Helper()
	path := e.writeConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := e.serverCmdAs(ctx, unprivilegedCred(), append([]string{"run", "--config", path, "--", probeBin}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	return parseResult(t, stdout.Bytes(), stderr.String())
}

func (e *testEnv) ownedByUnprivileged(t *testing.T) { e.own(t, unprivilegedCred()) }

// unprivilegedSleeper is a dumpable process of the unprivileged server's
// uid outside any sandbox: what the server would be to its same-uid
// children without its protections.
func unprivilegedSleeper(t *testing.T) *victim {
	t.Helper()
	return sleeperAs(t, unprivilegedCred())
}

func TestEscape_ServerFromChild_unprivilegedServer(t *testing.T) {
	ownServer(t, unprivilegedServerWhat)
	needScope(t)
	e := newEnv(t)
	e.ownedByUnprivileged(t)
	for _, a := range [][]string{
		{"pidfd-getfd", "ppid", "1"},
		{"ptrace-pid", "ppid"},
		{"read-environ", "ppid"},
		{"signal", "ppid"},
	} {
		r := e.runUnprivileged(t, e.config(), a...)
		stopped(t, r, "", "non-dumpable server and Landlock domain ("+a[0]+" of a same-uid server)")
		if r.Errno != "EPERM" && r.Errno != "EACCES" {
			t.Fatalf("%s: want EPERM or EACCES: %s", a[0], r)
		}
		// Baseline: the same uid, outside any domain, against a dumpable
		// process of that uid.
		v := unprivilegedSleeper(t)
		b := append([]string{a[0], v.pidArg()}, a[2:]...)
		escaped(t, direct(t, asUnprivileged(probe(b...))), "non-dumpable and Landlock domain ("+a[0]+" by the same uid from outside any domain, against a dumpable process)")
	}
}

// Signals need the scope alone: a non-dumpable process can still be
// signalled by its uid. The baseline signals the same server from outside
// any domain.
func TestEscape_SignalServer_landlockScope(t *testing.T) {
	ownServer(t, unprivilegedServerWhat)
	needScope(t)
	e := newEnv(t)
	e.ownedByUnprivileged(t)
	r := e.runUnprivileged(t, e.config(), "signal", "ppid")
	stopped(t, r, "EPERM", "Landlock signal scope")
	// A long-lived unprivileged server to signal from outside.
	path := e.writeConfig(t, e.config())
	srv := e.serverCmdAs(context.Background(), unprivilegedCred(), "serve", "--config", path)
	stdin, _ := srv.StdinPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); srv.Wait() }()
	escaped(t, direct(t, asUnprivileged(probe("signal", strconv.Itoa(srv.Process.Pid)))), "Landlock signal scope (the probe run directly as the server's uid)")
}

// --- another launch ---

// victimLaunch starts `mcp-process run -- probe ARGS...` as the mode's
// server in the background and returns the victim's pid (which it writes to a
// file) once it runs.
func (e *testEnv) victimLaunch(t *testing.T, cfg map[string]any, args ...string) (pid int, wait func()) {
	t.Helper()
	pidFile := filepath.Join(e.work, fmt.Sprintf("victim-%d.pid", time.Now().UnixNano()))
	path := e.writeConfig(t, cfg)
	cmd := e.serverCmd(context.Background(), append([]string{"run", "--config", path, "--", probeBin}, args...)...)
	if args[0] == "pid-sleep" {
		cmd.Args = append(cmd.Args[:len(cmd.Args)-len(args)+1], pidFile, args[1])
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	wait = func() { <-done }
	if args[0] != "pid-sleep" {
		time.Sleep(300 * time.Millisecond) // the listener is up
		return cmd.Process.Pid, wait
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && len(b) > 0 {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			return pid, wait
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the victim launch did not start: %s", out.String())
	return 0, nil
}

func TestEscape_SiblingLaunch_landlockDomain(t *testing.T) {
	eitherServer(t)
	needScope(t)
	e := newEnv(t)
	pid, _ := e.victimLaunch(t, e.config(), "pid-sleep", "30")
	p := strconv.Itoa(pid)
	for _, a := range [][]string{
		{"ptrace-pid", p},
		{"pidfd-getfd", p, "1"},
		{"read-environ", p},
		{"signal", p},
	} {
		// Both launches run as one uid (65534, or the unprivileged
		// server's) with no capability: only their Landlock domains keep
		// them apart.
		r := e.attack(t, e.config(), probeBin, a...)
		stopped(t, r, "", "Landlock domain ("+a[0]+" of another launch)")
		if r.Errno != "EPERM" && r.Errno != "EACCES" {
			t.Fatalf("%s: want EPERM or EACCES: %s", a[0], r)
		}
		escaped(t, direct(t, asChildUser(probe(a...))), "Landlock domain ("+a[0]+" by the same uid from outside any domain)")
	}
}

func TestEscape_SiblingAbstractSocket_landlockScope(t *testing.T) {
	eitherServer(t)
	needScope(t)
	e := newEnv(t)
	name := fmt.Sprintf("mcp-process-escape-%d", time.Now().UnixNano())
	// allowUnixSockets in both launches: the seccomp baseline would refuse
	// socket(AF_UNIX) in each (unixsock_test.go); this test is about the
	// Landlock scope, which must keep them apart on its own.
	unixOK := e.config(layer{"allowUnixSockets": true})
	_, wait := e.victimLaunch(t, unixOK, "abstract-listen", name, "20")
	r := e.attack(t, unixOK, probeBin, "abstract-connect", name)
	stopped(t, r, "EPERM", "Landlock abstract unix socket scope")
	escaped(t, direct(t, asChildUser(probe("abstract-connect", name))), "Landlock abstract unix socket scope (the probe run directly as the same uid)")
	wait()
}

// The zygote that forks the default profile's launches is a sibling of
// every target (both are the server's children) and runs as the server's
// uid: a target can neither take its descriptors (its socket to the
// server), trace it, read its environment nor signal it (non-dumpable, and
// the target's Landlock domain with the signal scope). Baseline: the same
// uid from outside any domain, against a dumpable process of that uid.
func TestEscape_ZygoteFromChild_unprivilegedServer(t *testing.T) {
	ownServer(t, unprivilegedServerWhat)
	needScope(t)
	e := newEnv(t)
	e.ownedByUnprivileged(t)
	for _, a := range [][]string{
		{"pidfd-getfd", "zygote", "3"},
		{"ptrace-pid", "zygote"},
		{"read-environ", "zygote"},
		{"signal", "zygote"},
	} {
		r := e.runUnprivileged(t, e.config(), a...)
		stopped(t, r, "", "non-dumpable zygote and Landlock domain ("+a[0]+" of the zygote)")
		if r.Errno != "EPERM" && r.Errno != "EACCES" {
			t.Fatalf("%s: want EPERM or EACCES (and the zygote found): %s", a[0], r)
		}
		v := unprivilegedSleeper(t)
		b := []string{a[0], v.pidArg()}
		if a[0] == "pidfd-getfd" {
			b = append(b, "1") // the sleeper's stdout (it has no descriptor 3)
		}
		escaped(t, direct(t, asUnprivileged(probe(b...))), "non-dumpable and Landlock domain ("+a[0]+" by the same uid from outside any domain, against a dumpable process)")
	}
}
