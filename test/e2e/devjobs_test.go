//go:build linux

package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// "A private view of the host", item 5: the development profile's tools do
// their everyday jobs under the defaults a root server gives its children
// (uid 65534, private /tmp and /run, Landlock writes confined to the working
// directories, /tmp and the agent's HOME, the tree executable scope, the
// AF_UNIX seccomp baseline). Offline, with fixtures each test makes itself:
// git clones a local repository, commits and logs; npm installs a local
// tarball and runs a test script; pip installs a local wheel for the user
// and python imports it.

// devJobsConfig is the development profile's shape: its limits (128 tasks:
// maxProcesses counts threads), shells blocked unless shells is true.
func devJobsConfig(e *testEnv, shells bool, exes ...string) map[string]any {
	cfg := e.config(exes...)
	cfg["blockShellInterpreters"] = !shells
	cfg["defaultResourceLimits"] = map[string]any{"maxProcesses": 128, "maxMemoryMB": 2048}
	return cfg
}

// needTool skips the test when path (a name or an absolute path) is absent.
func needTool(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("%s is not installed on this host: %v", path, err)
	}
}

// rootRun runs a fixture-making command as the test (root), outside the server.
func rootRun(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fixture: %s %q: %v\n%s", name, args, err, out)
	}
}

// giveToNobody hands a fixture tree to the children's uid, as a user's
// project files belong to the user the children run as.
func giveToNobody(t *testing.T, dir string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, 65534, 65534)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// wroteAsNobody checks that path was written by a child of a root server,
// which runs as uid 65534.
func wroteAsNobody(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if uid := fi.Sys().(*syscall.Stat_t).Uid; uid != 65534 {
		t.Fatalf("%s belongs to uid %d: a root server's children run as 65534", path, uid)
	}
}

// mustRun runs exe through process_run and fails unless it exits 0.
func (s *mcpServer) mustRun(exe string, args []string, cwd string, env map[string]string) runResult {
	s.t.Helper()
	r := s.runIn(exe, args, cwd, env)
	if r.ExitCode == nil || *r.ExitCode != 0 {
		s.t.Fatalf("%s %q in %s: exit %v signal %q\nstdout: %s\nstderr: %s", exe, args, cwd, r.ExitCode, r.Signal, r.Stdout, r.Stderr)
	}
	return r
}

func (s *mcpServer) runIn(exe string, args []string, cwd string, env map[string]string) runResult {
	s.t.Helper()
	var r runResult
	in := map[string]any{"executable": exe, "args": args, "cwd": cwd, "waitTimeout": 50000}
	if env != nil {
		in["env"] = env
	}
	s.ok("process_run", in, &r)
	return r
}

var gitIdentity = map[string]string{
	"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
	"GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com",
}

// makeGitFixture makes origin/ (one commit) and origin.bundle in dir as root
// and hands them to uid 65534.
func makeGitFixture(t *testing.T, dir string) (origin, bundle string) {
	t.Helper()
	origin, bundle = filepath.Join(dir, "origin"), filepath.Join(dir, "origin.bundle")
	id := []string{"GIT_AUTHOR_NAME=root", "GIT_AUTHOR_EMAIL=root@example.com",
		"GIT_COMMITTER_NAME=root", "GIT_COMMITTER_EMAIL=root@example.com", "GIT_CONFIG_NOSYSTEM=1", "HOME=" + dir}
	rootRun(t, dir, id, "git", "init", "-q", "-b", "main", origin)
	if err := os.WriteFile(filepath.Join(origin, "README"), []byte("fixture\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rootRun(t, origin, id, "git", "add", "README")
	rootRun(t, origin, id, "git", "commit", "-q", "-m", "fixture commit")
	rootRun(t, origin, id, "git", "bundle", "create", "-q", bundle, "HEAD", "main")
	giveToNobody(t, dir)
	return origin, bundle
}

// cloneCommitLog clones src into clone, commits in it and checks the log.
func cloneCommitLog(s *mcpServer, work, src, clone string) {
	s.t.Helper()
	s.mustRun("git", []string{"clone", "-q", src, clone}, work, nil)
	if err := os.WriteFile(filepath.Join(clone, "agent.txt"), []byte("by the agent\n"), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.mustRun("git", []string{"add", "agent.txt"}, clone, nil)
	s.mustRun("git", []string{"commit", "-q", "-m", "agent commit"}, clone, gitIdentity)
	r := s.mustRun("git", []string{"log", "--format=%s <%ae>"}, clone, nil)
	wroteAsNobody(s.t, filepath.Join(clone, ".git", "HEAD"))
	if want := "agent commit <e2e@example.com>\nfixture commit <root@example.com>"; strings.TrimSpace(r.Stdout) != want {
		s.t.Fatalf("git log in the clone = %q, want %q", r.Stdout, want)
	}
}

// git's local transport (a path or file://) runs `git-upload-pack '<path>'`
// through /bin/sh -c: with shells blocked the tree scope refuses the shell
// and the clone fails; a bundle is read in-process and clones; with shells
// allowed the local clone works.
func TestDevJobsGitCloneCommitLog(t *testing.T) {
	t.Parallel()
	needTool(t, "git")
	t.Run("shells blocked", func(t *testing.T) {
		e := newEnv(t)
		fix := filepath.Join(e.work, "fixtures")
		_, bundle := makeGitFixture(t, mkdir(t, fix))
		s := startServer(t, e, devJobsConfig(e, false, "git"))
		for _, src := range []string{filepath.Join(fix, "origin"), "file://" + filepath.Join(fix, "origin")} {
			r := s.runIn("git", []string{"clone", "-q", src, filepath.Join(e.work, "refused")}, e.work, nil)
			if r.ExitCode == nil || *r.ExitCode == 0 || !strings.Contains(r.Stderr, "git-upload-pack") || !strings.Contains(r.Stderr, "Permission denied") {
				t.Fatalf("git clone %s with shells blocked: exit %v, stderr %q; want a failure naming git-upload-pack and Permission denied", src, r.ExitCode, r.Stderr)
			}
		}
		cloneCommitLog(s, e.work, bundle, filepath.Join(e.work, "clone"))
	})
	t.Run("shells allowed", func(t *testing.T) {
		e := newEnv(t)
		fix := filepath.Join(e.work, "fixtures")
		origin, _ := makeGitFixture(t, mkdir(t, fix))
		s := startServer(t, e, devJobsConfig(e, true, "git"))
		cloneCommitLog(s, e.work, origin, filepath.Join(e.work, "clone"))
		cloneCommitLog(s, e.work, "file://"+origin, filepath.Join(e.work, "clone2"))
	})
}

func mkdir(t *testing.T, d string) string {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// npmTarball writes a package tarball (as `npm pack` makes: package/...).
func npmTarball(t *testing.T, path string, files map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// npm installs a local tarball offline (the cache in the agent's HOME), and
// runs the "test" script, which npm runs through /bin/sh: refused with
// shells blocked, run with them allowed (/bin/sh is then a tree-only helper).
func TestDevJobsNpmInstallAndTest(t *testing.T) {
	t.Parallel()
	needTool(t, "node")
	needTool(t, "npm")
	for _, shells := range []bool{false, true} {
		name := map[bool]string{false: "shells blocked", true: "shells allowed"}[shells]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.stateOutsideTmp(t) // the agent's HOME (npm's cache) where a root server keeps it
			fix := mkdir(t, filepath.Join(e.work, "fixtures"))
			tgz := filepath.Join(fix, "devjobs-lib-1.0.0.tgz")
			npmTarball(t, tgz, map[string]string{
				"package.json": `{"name": "devjobs-lib", "version": "1.0.0", "main": "index.js"}`,
				"index.js":     `module.exports = (a, b) => a + b;`,
			})
			app := mkdir(t, filepath.Join(e.work, "app"))
			for name, body := range map[string]string{
				"package.json": `{"name": "app", "version": "0.0.1", "private": true, "scripts": {"test": "node test.js"}}`,
				"test.js":      `const add = require('devjobs-lib'); if (add(40, 2) !== 42) process.exit(1); console.log('npm-test-passed');`,
			} {
				if err := os.WriteFile(filepath.Join(app, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			giveToNobody(t, fix)
			giveToNobody(t, app)
			s := startServer(t, e, devJobsConfig(e, shells, "node", "npm"))
			s.mustRun("npm", []string{"install", "--offline", "--no-audit", "--no-fund", tgz}, app, nil)
			b, err := os.ReadFile(filepath.Join(app, "node_modules", "devjobs-lib", "index.js"))
			if err != nil || !strings.Contains(string(b), "a + b") {
				t.Fatalf("npm install did not unpack the tarball into node_modules: %v", err)
			}
			wroteAsNobody(t, filepath.Join(app, "node_modules"))
			if b, err := os.ReadFile(filepath.Join(app, "package.json")); err != nil || !strings.Contains(string(b), "devjobs-lib") {
				t.Fatalf("npm install did not record the dependency in package.json: %v %s", err, b)
			}
			if _, err := os.Stat(filepath.Join(e.homesRoot(), "e2e-test", ".npm")); err != nil {
				t.Fatalf("npm kept no cache in the agent's HOME: %v", err)
			}
			r := s.runIn("npm", []string{"test"}, app, nil)
			passed := r.ExitCode != nil && *r.ExitCode == 0 && strings.Contains(r.Stdout, "npm-test-passed")
			if passed != shells {
				t.Fatalf("npm test with blockShellInterpreters %v: exit %v\nstdout: %s\nstderr: %s", !shells, r.ExitCode, r.Stdout, r.Stderr)
			}
			if !shells && !strings.Contains(r.Stderr, "spawn sh EACCES") {
				t.Fatalf("npm test with shells blocked failed without spawn sh EACCES (the tree scope's refused exec of /bin/sh):\n%s", r.Stderr)
			}
		})
	}
}

// wheel builds a minimal pure-Python wheel: one module and its .dist-info.
func wheel(t *testing.T, path, name, version, module, body string) {
	t.Helper()
	di := fmt.Sprintf("%s-%s.dist-info", name, version)
	files := []struct{ name, body string }{
		{module + ".py", body},
		{di + "/METADATA", fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", name, version)},
		{di + "/WHEEL", "Wheel-Version: 1.0\nGenerator: e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
	}
	var record strings.Builder
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(n, b string) {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range files {
		add(f.name, f.body)
		sum := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(sum[:]), len(f.body))
	}
	fmt.Fprintf(&record, "%s/RECORD,,\n", di)
	add(di+"/RECORD", record.String())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pip installs a local wheel for the user (the user site is in the agent's
// HOME) with no index; python imports it from there. Debian marks its
// Python externally managed (PEP 668), so --user needs
// --break-system-packages (PIP_BREAK_SYSTEM_PACKAGES is an always-blocked
// variable: the option goes as an argument).
func TestDevJobsPipInstallUserWheel(t *testing.T) {
	t.Parallel()
	// The allowlist names what runs: Debian's pip3 is a #!/usr/bin/python3
	// script (a pyenv shim earlier in the test's PATH would be another file).
	const python, pip = "/usr/bin/python3", "/usr/bin/pip3"
	needTool(t, python)
	needTool(t, pip)
	e := newEnv(t)
	e.stateOutsideTmp(t) // the agent's HOME where a root server keeps it
	fix := mkdir(t, filepath.Join(e.work, "fixtures"))
	whl := filepath.Join(fix, "devjobs_mod-1.0-py3-none-any.whl")
	wheel(t, whl, "devjobs_mod", "1.0", "devjobs_mod", "ANSWER = 42\n")
	giveToNobody(t, fix)
	s := startServer(t, e, devJobsConfig(e, false, python, pip))
	s.mustRun(pip, []string{"install", "--user", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
		"--break-system-packages", whl}, e.work, nil)
	r := s.mustRun(python, []string{"-c", // one expression: the injection patterns (";", newline) stay on
		"print(*(lambda m: (m.ANSWER, m.__file__))(__import__('devjobs_mod')), __import__('site').USER_SITE)"}, e.work, nil)
	f := strings.Fields(r.Stdout)
	if len(f) != 3 || f[0] != "42" || !strings.HasPrefix(f[1], f[2]+"/") {
		t.Fatalf("python3 did not import devjobs_mod from the user site: %q", r.Stdout)
	}
	home := filepath.Join(e.homesRoot(), "e2e-test")
	if !strings.HasPrefix(f[2], home+"/") {
		t.Fatalf("user site %s is not in the agent's HOME %s", f[2], home)
	}
	if _, err := os.Stat(filepath.Join(f[2], "devjobs_mod.py")); err != nil {
		t.Fatalf("the wheel's module is not in the agent's HOME on the host: %v", err)
	}
	wroteAsNobody(t, filepath.Join(f[2], "devjobs_mod.py"))
}
