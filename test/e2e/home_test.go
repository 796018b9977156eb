//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

const python = "/usr/bin/python3"

// Python snippets run as the child: they find HOME the way tools do.
const (
	pyWriteHome = `import os; open(os.path.expanduser("~/marker"), "w").write("from-first"); print(os.environ["HOME"])`
	pyReadHome  = `import os; print(open(os.path.expanduser("~/marker")).read())`
)

// pyScript writes code into the working directory (arguments may not
// hold ";" or newlines: blockInjectionPatterns) and returns its path.
func (e *testEnv) pyScript(t *testing.T, name, code string) string {
	t.Helper()
	p := filepath.Join(e.work, name+".py")
	if err := os.WriteFile(p, []byte(code+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s not available", python)
	}
}

// homesRoot is where the server of e keeps the agents' homes
// ($XDG_STATE_HOME/mcp-process/homes, as environ sets it).
func (e *testEnv) homesRoot() string { return filepath.Join(e.stateHome(), "mcp-process", "homes") }

// stateOutsideTmp moves the server's state directory (so the agents'
// homes) out of /tmp, which Landlock leaves writable to every child and
// the private view replaces (with only the launch's own HOME bound back),
// to where a root server keeps it.
func (e *testEnv) stateOutsideTmp(t *testing.T) {
	t.Helper()
	d, err := os.MkdirTemp("/var/lib", "mcp-process-e2e-state-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	e.state = d
}

// childIDs are the ids a child of a root server runs as by default.
func childIDs() (uint32, uint32) {
	if os.Geteuid() == 0 {
		return 65534, 65534
	}
	return uint32(os.Geteuid()), uint32(os.Getegid())
}

func ownerOf(t *testing.T, p string) (os.FileMode, uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode(), st.Uid, st.Gid
}

// Two launches by one agent share a HOME that is not the server's: what
// the first writes there (as the child's uid) the second reads; the
// directory is the agent's own, mode 0700, owned by the children's uid.
// A request cannot move HOME, not even to the server's home.
func TestAgentHomePersistsAcrossLaunches(t *testing.T) {
	t.Parallel()
	needPython(t)
	e := newEnv(t)
	s := startServer(t, e, e.config(python))
	serverHome := filepath.Join(e.dir, "home")

	var first runResult
	s.ok("process_run", map[string]any{"executable": python, "args": []string{e.pyScript(t, "write", pyWriteHome)}}, &first)
	if first.ExitCode == nil || *first.ExitCode != 0 {
		t.Fatalf("first launch: %+v", first)
	}
	home := strings.TrimSpace(first.Stdout)
	if want := filepath.Join(e.homesRoot(), "e2e-test"); home != want {
		t.Errorf("HOME = %q, want the agent's own %s", home, want)
	}
	if home == serverHome {
		t.Fatalf("the child's HOME is the server's")
	}
	if _, err := os.Stat(filepath.Join(serverHome, "marker")); err == nil {
		t.Errorf("the child wrote into the server's HOME")
	}
	uid, gid := childIDs()
	if m, u, g := ownerOf(t, home); m != os.ModeDir|0o700 || u != uid || g != gid {
		t.Errorf("HOME is %v %d:%d, want drwx------ %d:%d", m, u, g, uid, gid)
	}
	if _, u, _ := ownerOf(t, filepath.Join(home, "marker")); u != uid {
		t.Errorf("the file the child wrote is owned by %d, want the child's uid %d", u, uid)
	}

	var second runResult
	s.ok("process_run", map[string]any{"executable": python, "args": []string{e.pyScript(t, "read", pyReadHome)}}, &second)
	if second.Stdout != "from-first\n" {
		t.Errorf("second launch read %q (stderr %q), want what the first wrote", second.Stdout, second.Stderr)
	}

	// process_get_policy says where the homes are and what separates them.
	var pol struct {
		Layers map[string]string `json:"layers"`
	}
	s.ok("process_get_policy", map[string]any{}, &pol)
	if h := pol.Layers["home"]; !strings.Contains(h, filepath.Join(e.homesRoot(), "<agent>")) || !strings.Contains(h, "write") {
		t.Errorf("layers[home] = %q, want the homes' place and what keeps agents apart", h)
	}

	te := s.failCode("process_run", map[string]any{"executable": python, "args": []string{e.pyScript(t, "read", pyReadHome)},
		"env": map[string]string{"HOME": serverHome}}, "ENV_INVALID")
	if !strings.Contains(te.Message, "HOME") {
		t.Errorf("the refusal should name HOME: %+v", te)
	}
}

// A service and its health check run with the agent's HOME too.
func TestAgentHomeForServices(t *testing.T) {
	t.Parallel()
	needPython(t)
	e := newEnv(t)
	s := startServer(t, e, e.config(python))
	home := filepath.Join(e.homesRoot(), "e2e-test")
	// Healthy only if the check's HOME is the agent's and holds what the
	// service wrote there.
	check := fmt.Sprintf(`import os, sys; sys.exit(0 if os.environ["HOME"] == %q and open(os.path.expanduser("~/svc")).read() == "up" else 1)`, home)
	var svc struct {
		ServiceID string `json:"serviceId"`
	}
	s.ok("process_start_service", map[string]any{
		"name": "homed", "executable": python,
		"args":        []string{e.pyScript(t, "svc", `import os, time; open(os.path.expanduser("~/svc"), "w").write("up"); time.sleep(60)`)},
		"healthCheck": map[string]any{"command": []string{python, e.pyScript(t, "check", check)}, "interval": 2000, "timeout": 2000},
	}, &svc)
	eventually(t, 15*time.Second, "health healthy", func() (bool, string) {
		var ss serviceStatus
		s.ok("process_get_service", map[string]any{"serviceId": svc.ServiceID}, &ss)
		return ss.Health == "healthy", fmt.Sprintf("%+v", ss)
	})
}

// `mcp-process run` is agent "cli": its HOME is that agent's directory.
func TestAgentHomeCLIRun(t *testing.T) {
	t.Parallel()
	needPython(t)
	e := newEnv(t)
	cfg := e.writeConfig(t, "cli.json", e.config(python))
	out, errOut, code := runCLI(t, e, "", nil, "run", "--config", cfg, python, e.pyScript(t, "write", pyWriteHome))
	if code != 0 {
		t.Fatalf("run: exit %d\n%s", code, errOut)
	}
	if want := filepath.Join(e.homesRoot(), "cli"); strings.TrimSpace(out) != want {
		t.Errorf("HOME = %q, want %s", out, want)
	}
	out, errOut, code = runCLI(t, e, "", nil, "run", "--config", cfg, python, e.pyScript(t, "read", pyReadHome))
	if code != 0 || out != "from-first\n" {
		t.Errorf("the second run read %q (exit %d, %s)", out, code, errOut)
	}
}

// Two agents over HTTP get different HOMEs. With Landlock, one agent's
// children cannot write into the other's HOME. (Reading it is not
// prevented when both agents' children run as the same uid, as every
// agent's do on a root server: docs/environment.md says so.)
func TestAgentHomesPerHTTPAgent(t *testing.T) {
	t.Parallel()
	testAgentHomes(t, true)
}

// Baseline: without Landlock, the mode 0700 alone does not keep one
// agent's children out of another agent's HOME when both run as the same
// uid (every agent's do, on a root server and on a non-root one): what
// docs/environment.md says, and why the test above needs Landlock.
func TestAgentHomesSameUIDBaseline(t *testing.T) {
	t.Parallel()
	testAgentHomes(t, false)
}

func testAgentHomes(t *testing.T, landlock bool) {
	needPython(t)
	e := newEnv(t)
	cfg := e.config(python)
	cfg["agents"] = []map[string]string{{"id": "alice", "tokenSha256": tokenHash("alice-token")}, {"id": "bob/../alice", "tokenSha256": tokenHash("bob-token")}}
	cfg["landlock"] = landlock
	e.stateOutsideTmp(t)
	_, url := startHTTPServer(t, e, cfg)

	run := func(token, script string) runResult {
		t.Helper()
		sess, err := dialHTTP(t, url, token)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		res, err := sess.CallTool(context.Background(), &mcp.CallToolParams{Name: "process_run", Arguments: map[string]any{"executable": python, "args": []string{script}}})
		if err != nil {
			t.Fatalf("process_run: %v", err)
		}
		r, err := toToolResult(res)
		if err != nil {
			t.Fatal(err)
		}
		var rr runResult
		if err := json.Unmarshal(r.Structured, &rr); err != nil || res.IsError {
			t.Fatalf("process_run: %s %v", r.Structured, err)
		}
		return rr
	}
	write := e.pyScript(t, "write", pyWriteHome)
	alice := strings.TrimSpace(run("alice-token", write).Stdout)
	bob := strings.TrimSpace(run("bob-token", write).Stdout)
	if alice != filepath.Join(e.homesRoot(), "alice") {
		t.Errorf("alice's HOME = %q", alice)
	}
	// An id holding "/" and ".." stays one directory beneath the root.
	if filepath.Dir(bob) != e.homesRoot() || bob == alice {
		t.Errorf("bob's HOME = %q, want its own directory in %s", bob, e.homesRoot())
	}
	// Bob's child tries to overwrite Alice's marker and to plant a file there.
	r := run("bob-token", e.pyScript(t, "trespass", fmt.Sprintf(`
import os
for p in (%q, %q):
    try:
        open(p, "w").write("bob")
        print("wrote", p)
    except OSError as e:
        print("refused", e.errno)
`, filepath.Join(alice, "marker"), filepath.Join(alice, "planted"))))
	if !landlock {
		if strings.Count(r.Stdout, "wrote") != 2 {
			t.Errorf("baseline: bob's child (same uid) should reach alice's HOME without Landlock: %q %q", r.Stdout, r.Stderr)
		}
		return
	}
	if strings.Count(r.Stdout, "refused") != 2 {
		t.Errorf("bob's trespass did not run as expected: %q %q", r.Stdout, r.Stderr)
	}
	if strings.Contains(r.Stdout, "wrote") {
		t.Errorf("bob's child wrote into alice's HOME: %s", r.Stdout)
	}
	if b, _ := os.ReadFile(filepath.Join(alice, "marker")); string(b) != "from-first" {
		t.Errorf("alice's marker is %q", b)
	}
	if _, err := os.Lstat(filepath.Join(alice, "planted")); err == nil {
		t.Errorf("a file was planted in alice's HOME")
	}
}

// A root server whose children could not reach their homes refuses to
// start, naming the directory and the fix, rather than fail every launch.
func TestAgentHomeUnreachableRefusesStart(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root: a non-root server's children are its own uid")
	}
	e := newEnv(t)
	private := filepath.Join(e.dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil { // like /root
		t.Fatal(err)
	}
	cfg := e.writeConfig(t, "cli.json", e.config("/bin/echo"))
	_, errOut, code := runCLI(t, e, "", []string{"XDG_STATE_HOME=" + filepath.Join(private, "state")}, "run", "--config", cfg, "/bin/echo", "x")
	if code != 2 || !strings.Contains(errOut, private+" is mode 0700") || !strings.Contains(errOut, "XDG_STATE_HOME") {
		t.Errorf("want exit 2 naming %s and XDG_STATE_HOME, got %d: %s", private, code, errOut)
	}
}
