//go:build linux

package escape

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Set once by TestMain.
var (
	serverBin string // mcp-process
	probeBin  string // testdata/probe, in a directory every user may enter
	// suiteRoot holds every file of the suite. It is under none of the
	// directories a child gets a private copy of (/tmp, /var/tmp, /run,
	// /dev/shm: SPEC 7.1a), which would hide the files the attacks aim at,
	// and Landlock leaves /tmp writable, which would let the writes the
	// tests expect refused through.
	suiteRoot string
)

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	if os.Geteuid() != 0 {
		// The attacks are only meaningful against a root server: that is
		// where a missing layer gives a child everything.
		fmt.Fprintln(os.Stderr, "escape: these tests run as root (the layers they attack are a root server's)")
		return 1
	}
	if err := setServerUser(); err != nil {
		fmt.Fprintln(os.Stderr, "escape:", err)
		return 1
	}
	var err error
	if suiteRoot, err = os.MkdirTemp("/var/lib", "mcp-process-escape-"); err != nil {
		fmt.Fprintln(os.Stderr, "escape: a directory outside /tmp is needed:", err)
		return 1
	}
	defer os.RemoveAll(suiteRoot)
	// Everyone must reach the probe and the tests' directories: nobody
	// (setuid-exec) and root in a user namespace (an unused id on the host).
	if err := os.Chmod(suiteRoot, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "escape:", err)
		return 1
	}
	dir := filepath.Join(suiteRoot, "bin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "escape:", err)
		return 1
	}
	serverBin = filepath.Join(dir, "mcp-process")
	probeBin = filepath.Join(dir, "probe")
	for _, b := range []struct{ out, pkg string }{
		{serverBin, "github.com/mcp-process/mcp-process/cmd/mcp-process"},
		{probeBin, "./testdata/probe"},
	} {
		cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "escape: go build %s: %v\n%s", b.pkg, err, out)
			return 1
		}
	}
	code := m.Run()
	reportMode()
	return code
}

// result is the probe's one JSON line; OK means the escape SUCCEEDED.
type result struct {
	Attack string `json:"attack"`
	OK     bool   `json:"ok"`
	Errno  string `json:"errno"`
	Detail string `json:"detail"`
}

func (r result) String() string {
	return fmt.Sprintf("%s: ok=%v errno=%q detail=%q", r.Attack, r.OK, r.Errno, r.Detail)
}

// testEnv is one test's private directories.
type testEnv struct {
	dir   string // config, HOME, files the attacks aim at
	work  string // the allowed working directory
	audit string
	owner *syscall.Credential // owns the directories and configs; nil: root
}

// dirs is the env's directories, which the server writes (audit log,
// HOME) and its children too (the working directory, dir).
func (e *testEnv) dirs() []string {
	return []string{e.dir, e.work, filepath.Join(e.dir, "home"), filepath.Join(e.dir, "audit")}
}

// newEnv makes the test's directories; against an unprivileged server
// (mode_test.go) they belong to the server's uid.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	mustHaveDecided(t)
	dir := tempDir(t, "env-")
	e := &testEnv{dir: dir, work: filepath.Join(dir, "work"), audit: filepath.Join(dir, "audit", "audit.log")}
	for _, d := range []string{e.work, filepath.Join(dir, "home"), filepath.Join(dir, "audit")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A root server's children run as 65534 (or an unused id in a user
	// namespace): they may write the working directory and the env's own
	// directory, where the attacks aim the writes a layer must stop.
	for _, d := range []string{dir, e.work} {
		if err := os.Chmod(d, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	if unprivileged() {
		e.own(t, serverCred)
	}
	return e
}

// layer is the configuration keys that switch one layer on.
type layer map[string]any

// config is the policy every attack runs under: only the probe may run,
// only in the env's working directory, with limits that leave the probe
// (a Go program with a few threads and children) room, plus the keys of
// the given layers.
func (e *testEnv) config(layers ...layer) map[string]any {
	cfg := map[string]any{
		"allowedExecutables":        []string{probeBin},
		"allowedWorkingDirectories": []string{e.work},
		"auditLogPath":              e.audit,
		"maxLaunchesPerMinute":      1000,
		"defaultResourceLimits":     map[string]any{"maxProcesses": 64, "maxMemoryMB": 512},
	}
	for _, l := range layers {
		for k, v := range l {
			// Objects (namespaces) merge: pidNS and userNS give both.
			if m, ok := v.(map[string]any); ok {
				if old, ok := cfg[k].(map[string]any); ok {
					merged := maps.Clone(old)
					maps.Copy(merged, m)
					cfg[k] = merged
					continue
				}
			}
			cfg[k] = v
		}
	}
	return cfg
}

// environ is the server's environment, with HOME inside the test.
func (e *testEnv) environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCP_PROCESS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+filepath.Join(e.dir, "home"), "XDG_STATE_HOME="+filepath.Join(e.dir, "home", "state"))
}

var configSeq int

func (e *testEnv) writeConfig(t *testing.T, cfg map[string]any) string {
	t.Helper()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	configSeq++
	p := filepath.Join(e.dir, fmt.Sprintf("config-%d.json", configSeq))
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if e.owner != nil {
		if err := os.Chown(p, int(e.owner.Uid), int(e.owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// attack runs `mcp-process run --config FILE -- EXE ARGS...` under cfg,
// as the mode's server (root, or MCP_PROCESS_ESCAPE_SERVER_UID), and
// returns the probe's result. The config must pass `mcp-process validate`
// (a layer that is not available fails the test: it must not pass by being
// refused), and the run must end with exit code 0 (the probe always exits
// 0; anything else means the launch itself failed).
func (e *testEnv) attack(t *testing.T, cfg map[string]any, exe string, args ...string) result {
	t.Helper()
	path := e.writeConfig(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v := e.serverCmd(ctx, "validate", "--config", path)
	if out, err := v.CombinedOutput(); err != nil {
		t.Fatalf("mcp-process validate refused the config (%v): the layer under test is not available here:\n%s", err, out)
	}
	cmd := e.serverCmd(ctx, append([]string{"run", "--config", path, "--", exe}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		t.Fatalf("mcp-process run (%s) -- %s %q: %v\nstdout: %s\nstderr: %s", serverName(), exe, args, err, stdout.String(), stderr.String())
	}
	return parseResult(t, stdout.Bytes(), stderr.String())
}

// direct runs the probe on the host, outside any sandbox: the baseline of
// a layer that is always on (no configuration turns it off).
func direct(t *testing.T, cmd *exec.Cmd) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\nstderr: %s", cmd.Args, err, stderr.String())
	}
	return parseResult(t, stdout.Bytes(), stderr.String())
}

func probe(args ...string) *exec.Cmd { return exec.Command(probeBin, args...) }

func parseResult(t *testing.T, out []byte, stderr string) result {
	t.Helper()
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	last := lines[len(lines)-1]
	var r result
	if err := json.Unmarshal(last, &r); err != nil || r.Attack == "" {
		t.Fatalf("no probe result in the output (%v):\nstdout: %s\nstderr: %s", err, out, stderr)
	}
	return r
}

// stopped asserts that the attack failed, with errno when it is not "",
// and logs the layer that stopped it.
func stopped(t *testing.T, r result, errno, layer string) {
	t.Helper()
	if r.OK {
		t.Fatalf("ESCAPE: %s was not stopped (layer %s): %s", r.Attack, layer, r)
	}
	if errno != "" && r.Errno != errno {
		t.Fatalf("%s failed with %q, want %q from the %s layer: %s", r.Attack, r.Errno, errno, layer, r)
	}
	t.Logf("stopped by %s: %s", layer, r)
}

// escaped asserts that the baseline attack, without the layer, worked.
func escaped(t *testing.T, r result, without string) {
	t.Helper()
	if !r.OK {
		t.Fatalf("baseline without %s: the attack should work here, so that the layer is what stops it: %s", without, r)
	}
	t.Logf("baseline without %s: %s", without, r)
}

// otherErrno asserts that the baseline attack failed differently: the
// layer's errno is not what the kernel answers without it.
func otherErrno(t *testing.T, r result, layerErrno, without string) {
	t.Helper()
	if r.OK {
		t.Fatalf("baseline without %s: the attack worked: %s", without, r)
	}
	if r.Errno == layerErrno {
		t.Fatalf("baseline without %s: failed with %s too, so the test cannot tell the layer did it: %s", without, layerErrno, r)
	}
	t.Logf("baseline without %s: %s", without, r)
}

// hostSleeper starts a sleep on the host (the victim of kill and ptrace);
// it is killed when the test ends.
func hostSleeper(t *testing.T) *victim {
	t.Helper()
	return sleeperAs(t, nil)
}

type victim struct {
	pid  int
	done chan struct{} // closed once the process has ended
}

func (v *victim) pidArg() string { return strconv.Itoa(v.pid) }

// alive reports whether the victim is still running (not ended, not a
// zombie).
func (v *victim) alive() bool {
	select {
	case <-v.done:
		return false
	default:
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", v.pid))
	if err != nil {
		return false
	}
	_, rest, _ := bytes.Cut(b, []byte(") "))
	return len(rest) > 0 && rest[0] != 'Z' && rest[0] != 'X'
}

// waitDead waits (generously) for the victim to end.
func (v *victim) waitDead(t *testing.T) {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("process %d still alive", v.pid)
	}
}

// jail builds a chroot directory holding the probe at /probe, /work, /tmp
// and an empty /proc, and nothing of the host (no /etc).
func jail(t *testing.T) string {
	t.Helper()
	root := tempDir(t, "jail-")
	for _, d := range []string{"work", "proc", "tmp"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(root, "tmp"), 0o1777)
	copyFile(t, probeBin, filepath.Join(root, "probe"), 0o755)
	return root
}

// jailConfig is the policy of a chroot launch: paths inside the jail.
func (e *testEnv) jailConfig(root string, layers ...layer) map[string]any {
	cfg := e.config(layers...)
	cfg["enableChroot"] = true
	cfg["chrootDirectory"] = root
	cfg["allowedExecutables"] = []string{"/probe"}
	cfg["allowedWorkingDirectories"] = []string{"/work"}
	return cfg
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil { // past the umask; setuid bits too
		t.Fatal(err)
	}
}

// hostMounted reports whether path is a mount point in the host's (the
// test's) mount namespace.
func hostMounted(t *testing.T, path string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[4] == path {
			return true
		}
	}
	return false
}

// tempDir is a new directory under suiteRoot that everyone may enter,
// removed when the test ends.
func tempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp(suiteRoot, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
