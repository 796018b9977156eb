//go:build linux

package escape

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The server under attack runs as root (the default) or, when
// MCP_PROCESS_ESCAPE_SERVER_UID is a uid other than 0, as that uid (gid
// the same number, no supplementary groups). The test process itself stays
// root either way: it builds the binaries, creates the targets and runs
// the baselines that need root.
//
// Every server the suite starts goes through serverCmd, so it runs as the
// mode's server user; the env's directories then belong to that uid. Every
// test decides, before newEnv, what it does against an unprivileged
// server, with one of:
//
//   - eitherServer(t): the attack and its baseline run as they are;
//   - unprivilegedAdds(t, l, why): the layers l (a user namespace, which an
//     unprivileged server needs for the other namespaces, chroot and
//     readOnlyFilesystem) are added to the test's configs, which keep
//     their meaning; in root mode it adds nothing;
//   - rootServerOnly(t, why): skipped against an unprivileged server, where
//     the attack means nothing (why says where the unprivileged case is
//     covered);
//   - ownServer(t, what): the test starts its own server (an unprivileged
//     one, or both kinds) in every mode.
//
// In the unprivileged mode a test that did not decide fails at newEnv.
const serverUIDEnv = "MCP_PROCESS_ESCAPE_SERVER_UID"

// serverCred is the mode's server user; nil for a root server.
var serverCred *syscall.Credential

// setServerUser reads MCP_PROCESS_ESCAPE_SERVER_UID (TestMain).
func setServerUser() error {
	v := os.Getenv(serverUIDEnv)
	if v == "" || v == "0" {
		return nil
	}
	uid, err := strconv.ParseUint(v, 10, 31)
	if err != nil {
		return fmt.Errorf("%s=%q: want a numeric uid (65534, say)", serverUIDEnv, v)
	}
	serverCred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid), Groups: []uint32{}}
	return nil
}

// unprivileged reports whether the mode's server is not root.
func unprivileged() bool { return serverCred != nil }

// serverName names the mode's server in logs and skip reasons.
func serverName() string {
	if serverCred == nil {
		return "root server"
	}
	return fmt.Sprintf("unprivileged server (uid %d)", serverCred.Uid)
}

// childCred is the host identity of the children (without a user
// namespace): 65534:65534 for a root server, the server's own for an
// unprivileged one.
func childCred() *syscall.Credential {
	if serverCred != nil {
		return serverCred
	}
	return &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
}

// unprivilegedCred is the identity of the tests that always attack an
// unprivileged server: the mode's server when it is one, else 65534.
func unprivilegedCred() *syscall.Credential { return childCred() }

// as runs cmd with cred (nil: as the test process, root).
func as(cred *syscall.Credential, cmd *exec.Cmd) *exec.Cmd {
	if cred != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		c := *cred
		cmd.SysProcAttr.Credential = &c
	}
	return cmd
}

// asServerUser runs cmd as the mode's server user: the same-uid baseline
// of an attack on what that user owns.
func asServerUser(cmd *exec.Cmd) *exec.Cmd { return as(serverCred, cmd) }

// serverCmd is `mcp-process ARGS...` started as the mode's server, in the
// env's working directory, with its environment.
func (e *testEnv) serverCmd(ctx context.Context, args ...string) *exec.Cmd {
	return e.serverCmdAs(ctx, serverCred, args...)
}

// serverCmdAs is serverCmd with the server's identity chosen (nil: root).
func (e *testEnv) serverCmdAs(ctx context.Context, cred *syscall.Credential, args ...string) *exec.Cmd {
	cmd := as(cred, exec.CommandContext(ctx, serverBin, args...))
	cmd.Dir, cmd.Env = e.work, e.environ()
	return cmd
}

// own gives the env's directories (and files written later with
// writeConfig) to cred's uid, so that a server of that uid may write its
// audit log and state, and the children (same uid) the working directory.
func (e *testEnv) own(t *testing.T, cred *syscall.Credential) {
	t.Helper()
	for _, d := range e.dirs() {
		if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	e.owner = cred
}

// --- each test's decision ---

type decision int

const (
	ranAsIs decision = iota
	ranEquivalent
	ranOwnServer
	skippedRootOnly
)

var (
	decisionsMu sync.Mutex
	decisions   = map[string]decision{}
	skipped     = map[string]bool{} // tests (and subtests) that skipped, for any reason
)

func decide(t *testing.T, d decision) {
	t.Helper()
	decisionsMu.Lock()
	defer decisionsMu.Unlock()
	if _, again := decisions[t.Name()]; !again {
		t.Cleanup(func() {
			decisionsMu.Lock()
			defer decisionsMu.Unlock()
			skipped[t.Name()] = t.Skipped()
		})
	}
	decisions[t.Name()] = d
}

// decided reports whether t (or the test it is a subtest of) decided.
func decided(t *testing.T) bool {
	decisionsMu.Lock()
	defer decisionsMu.Unlock()
	for n := t.Name(); ; {
		if _, ok := decisions[n]; ok {
			return true
		}
		i := strings.LastIndexByte(n, '/')
		if i < 0 {
			return false
		}
		n = n[:i]
	}
}

// mustHaveDecided fails a test that attacks an unprivileged server without
// having said what its attack means there.
func mustHaveDecided(t *testing.T) {
	t.Helper()
	if unprivileged() && !decided(t) {
		t.Fatalf("%s: against an %s every test first decides what it runs: call eitherServer(t), unprivilegedAdds(t, layers, why), rootServerOnly(t, why) or ownServer(t, what) before newEnv (test/escape/mode_test.go)",
			t.Name(), serverName())
	}
}

// eitherServer: the test runs as it is against the mode's server; its
// attack must fail and its baseline work against either.
func eitherServer(t *testing.T) {
	t.Helper()
	decide(t, ranAsIs)
	t.Logf("server under attack: %s", serverName())
}

// unprivilegedAdds returns l against an unprivileged server (logging why)
// and no layer against a root server: the keys an unprivileged server
// needs for the test's configs to mean what they mean for a root one.
func unprivilegedAdds(t *testing.T, l layer, why string) layer {
	t.Helper()
	if !unprivileged() {
		decide(t, ranAsIs)
		t.Logf("server under attack: %s", serverName())
		return layer{}
	}
	decide(t, ranEquivalent)
	t.Logf("server under attack: %s, with %s: %s", serverName(), keysOf(l), why)
	return l
}

// rootServerOnly skips the test against an unprivileged server: why says
// why the attack means nothing there and what covers that case instead.
func rootServerOnly(t *testing.T, why string) {
	t.Helper()
	decide(t, skippedRootOnly)
	if unprivileged() {
		t.Skipf("root server only (the server under attack is an %s): %s", serverName(), why)
	}
	t.Logf("server under attack: %s", serverName())
}

// ownServer: the test starts the server(s) it attacks itself (what says
// which), the same in every mode.
func ownServer(t *testing.T, what string) {
	t.Helper()
	decide(t, ranOwnServer)
	t.Logf("starts its own server: %s", what)
}

func keysOf(l layer) string {
	var ks []string
	for k, v := range l {
		if m, ok := v.(map[string]any); ok {
			for mk := range m {
				ks = append(ks, k+"."+mk)
			}
			continue
		}
		if k == "enableNamespaces" {
			continue
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return "the same layers"
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

// reportMode prints, after the run, which tests (and subtests that
// decide for themselves) ran how against the mode's server, and which
// skipped: shown with -v, or when the package fails.
func reportMode() {
	decisionsMu.Lock()
	defer decisionsMu.Unlock()
	if !unprivileged() {
		fmt.Fprintf(os.Stderr, "escape: server under attack: root (%d tests decided; %s=65534 runs the unprivileged-server mode)\n",
			len(decisions), serverUIDEnv)
		return
	}
	count := map[decision]int{}
	var rootOnly, hostSkips []string
	for n, d := range decisions {
		switch {
		case d == skippedRootOnly:
			rootOnly = append(rootOnly, n)
		case skipped[n]:
			hostSkips = append(hostSkips, n)
		default:
			count[d]++
		}
	}
	sort.Strings(rootOnly)
	sort.Strings(hostSkips)
	fmt.Fprintf(os.Stderr, "escape: server under attack: %s: ran %d as they are, %d with an unprivileged equivalent, %d with their own server; skipped %d as root server only (%s) and %d for this host or mode (%s)\n",
		serverName(), count[ranAsIs], count[ranEquivalent], count[ranOwnServer],
		len(rootOnly), strings.Join(rootOnly, ", "), len(hostSkips), strings.Join(hostSkips, ", "))
}

// namespaces is the layer of the named namespaces.
func namespaces(names ...string) layer {
	m := map[string]any{}
	for _, n := range names {
		m[n] = true
	}
	return layer{"enableNamespaces": true, "namespaces": m}
}

// sleeperAs starts a sleep as cred (nil: root), the victim of kill and
// ptrace; it is killed when the test ends.
func sleeperAs(t *testing.T, cred *syscall.Credential) *victim {
	t.Helper()
	cmd := as(cred, exec.Command("sleep", "600"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &victim{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { cmd.Wait(); close(v.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-v.done })
	return v
}

// serverUserSleeper is a sleep of the mode's server user, outside any
// sandbox: what the children could kill or trace without the layer (root's
// for a root server, the server's own uid's for an unprivileged one).
func serverUserSleeper(t *testing.T) *victim {
	t.Helper()
	return sleeperAs(t, serverCred)
}
