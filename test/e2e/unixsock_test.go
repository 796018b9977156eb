//go:build linux

package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SPEC 7.1a: every child runs under the seccomp baseline, which refuses
// socket(AF_UNIX) unless allowUnixSockets is true. The development
// profile's tools (node, npm, git, python3, pip3) must keep doing their
// everyday jobs under it: their child processes, pipes, IPC and worker
// pools use pipes and socketpair(2), never socket(AF_UNIX). What does need
// a unix socket (here Python's multiprocessing.Manager) fails without the
// key and works with it.

// devTool is one everyday job of a development tool, run through
// process_run under the default configuration.
type devTool struct {
	name string
	exe  string // bare name, as the development profile allows it
	args []string
	want string // in stdout
}

func devTools(work string) []devTool {
	repo := filepath.Join(work, "repo")
	git := func(args ...string) []string {
		return append([]string{"-C", repo, "-c", "user.name=e2e", "-c", "user.email=e2e@example.com"}, args...)
	}
	return []devTool{
		{"node version", "node", []string{"--version"}, "v"},
		{"node child with stdio pipes", "node", []string{"-e", `
const c = require('child_process').spawn(process.execPath, ['-e', 'process.stdin.pipe(process.stdout)'], {stdio: ['pipe', 'pipe', 'inherit']});
let out = ''; c.stdout.on('data', d => out += d); c.on('close', code => console.log('piped:' + out.trim() + ':' + code));
c.stdin.end('through-the-pipe');`}, "piped:through-the-pipe:0"},
		{"node fork with IPC", "node", []string{"-e", `
const f = require('path').join(process.cwd(), 'child.js');
require('fs').writeFileSync(f, "process.on('message', m => { process.send(m + 1); process.exit(0) })");
const c = require('child_process').fork(f);
c.on('message', m => console.log('ipc:' + m)); c.send(41);`}, "ipc:42"},
		{"node worker thread", "node", []string{"-e", `
const {Worker} = require('worker_threads');
new Worker('require("worker_threads").parentPort.postMessage(41 + 1)', {eval: true}).on('message', m => console.log('worker:' + m));`}, "worker:42"},
		{"npm version", "npm", []string{"--version"}, "."},
		{"python3 multiprocessing pool, pipe, queue", "python3", []string{"-c", `
import multiprocessing as mp
if __name__ == '__main__':
    with mp.Pool(2) as p: r = p.map(abs, [-1, -2])
    a, b = mp.Pipe(); a.send(3); q = mp.Queue(); q.put(4)
    print('mp:', r, b.recv(), q.get())`}, "mp: [1, 2] 3 4"},
		{"python3 subprocess", "python3", []string{"-c", "import subprocess, sys; print(subprocess.run([sys.executable, '-c', 'print(5)'], capture_output=True, text=True).stdout.strip())"}, "5"},
		{"pip3 version", "pip3", []string{"--version"}, "pip "},
		{"git init", "git", []string{"init", "-q", repo}, ""},
		{"git commit", "git", git("commit", "-q", "--allow-empty", "-m", "first"), ""},
		{"git log", "git", git("log", "--oneline"), "first"},
		{"git status", "git", git("status", "--short", "--branch"), "##"},
	}
}

// devConfig allows exes with room for their threads (maxProcesses counts
// threads: node and npm start a dozen) and lets scripts be passed with -e
// and -c (the injection patterns refuse ";").
func devConfig(e *testEnv, exes ...string) map[string]any {
	cfg := e.config(exes...)
	cfg["blockInjectionPatterns"] = false
	cfg["defaultResourceLimits"] = map[string]any{"maxProcesses": 64}
	return cfg
}

func TestDevelopmentToolsUnderTheSeccompBaseline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	exes := []string{"node", "npm", "git", "python3", "pip3"}
	var missing []string
	for _, x := range exes {
		if _, err := exec.LookPath(x); err != nil {
			missing = append(missing, x)
		}
	}
	s := startServer(t, e, devConfig(e, exes...))
	var pol map[string]any
	s.ok("process_get_policy", map[string]any{}, &pol)
	for _, tc := range devTools(e.work) {
		t.Run(tc.name, func(t *testing.T) {
			s.t = t
			defer func() { s.t = t }()
			for _, m := range missing {
				if m == tc.exe {
					t.Skipf("%s is not installed on this host", tc.exe)
				}
			}
			args := tc.args
			var r runResult
			s.ok("process_run", map[string]any{"executable": tc.exe, "args": args, "cwd": e.work}, &r)
			if r.ExitCode == nil || *r.ExitCode != 0 || !strings.Contains(r.Stdout, tc.want) {
				t.Fatalf("%s %q under the seccomp baseline: exit %v signal %q\nstdout: %s\nstderr: %s",
					tc.exe, args, r.ExitCode, r.Signal, r.Stdout, r.Stderr)
			}
		})
	}
	s.t = t
	if b, _ := json.Marshal(pol); !strings.Contains(string(b), "no AF_UNIX") {
		t.Errorf("process_get_policy does not report the seccomp baseline's AF_UNIX rule: %s", b)
	}
	if l, _ := pol["layers"].(map[string]any)["seccomp-baseline"].(string); !strings.HasPrefix(l, "enforced: no socket(AF_UNIX)") {
		t.Errorf("process_get_policy layers[seccomp-baseline] = %q", l)
	}
}

// Python's multiprocessing.Manager serves its objects on a unix socket:
// refused by the baseline (socket: EPERM), served with allowUnixSockets.
func TestUnixSocketNeedsAllowUnixSockets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed on this host")
	}
	script := `
import multiprocessing as mp
if __name__ == '__main__':
    with mp.Manager() as m:
        d = m.dict(); d['k'] = 'shared'; print('manager:' + d['k'])`
	for _, allow := range []bool{false, true} {
		e := newEnv(t)
		cfg := devConfig(e, "python3")
		cfg["allowUnixSockets"] = allow
		s := startServer(t, e, cfg)
		var r runResult
		s.ok("process_run", map[string]any{"executable": "python3", "args": []string{"-c", script}, "cwd": e.work}, &r)
		worked := r.ExitCode != nil && *r.ExitCode == 0 && strings.Contains(r.Stdout, "manager:shared")
		if worked != allow {
			t.Fatalf("allowUnixSockets %v: multiprocessing.Manager exit %v, stdout %q, stderr %q", allow, r.ExitCode, r.Stdout, r.Stderr)
		}
		if !allow && !strings.Contains(r.Stderr, "PermissionError") && !strings.Contains(r.Stderr, "Operation not permitted") {
			t.Fatalf("without allowUnixSockets the Manager failed, but not with EPERM: %s", r.Stderr)
		}
		s.close()
	}
}
