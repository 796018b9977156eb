//go:build linux

// Package crash holds the crash test of the audit log (SPEC 7.2, issue 15):
// the real server, under load from several concurrent MCP clients calls,
// is SIGKILLed at a random moment, then restarted on the same log, again
// and again. After every kill:
//
//   - `mcp-process audit verify --key KEY LOG` exits 0 (the chain, the head
//     file and the signed checkpoints hold; no half record is kept, and a
//     partial last line could only be one the head shows was never synced);
//   - every launch answered to a client has its `launch` record, every
//     termination answered without auditError its `terminate` record;
//   - the violation log verifies too;
//   - the server starts again on that log.
//
// Short mode (CI, the plain `go test ./...`): 5 kills. Full mode:
//
//	MCP_PROCESS_CRASH_RUNS=50 go test -count=1 -v ./test/crash/
//
// The figures are logged (t.Log) at the end; docs/reliability.md has those
// of the last full run.
package crash

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

var serverBin string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mcp-process-crash-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	serverBin = filepath.Join(dir, "mcp-process")
	cmd := exec.Command("go", "build", "-o", serverBin, "github.com/mcp-process/mcp-process/cmd/mcp-process")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "crash: go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func runs() int {
	if v := os.Getenv("MCP_PROCESS_CRASH_RUNS"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return 5
}

type env struct {
	dir, work, log, key, config string
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	e := &env{dir: dir, work: filepath.Join(dir, "work"), log: filepath.Join(dir, "state", "audit.log"),
		key: filepath.Join(dir, "audit.key"), config: filepath.Join(dir, "config.json")}
	for _, d := range []string{e.work, filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A root server's children run as uid 65534: they must reach the work
	// directory through the test's directories.
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	os.Chmod(e.work, 0o777)
	if err := os.WriteFile(e.key, bytes.Repeat([]byte("crash-test-key!!"), 2), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"allowedExecutables":        []string{"/bin/true", "/bin/sleep"},
		"allowedWorkingDirectories": []string{e.work},
		"auditLogPath":              e.log,
		"auditSigningKeyFile":       e.key,
		"maxLaunchesPerMinute":      100000,
		"maxConcurrentProcesses":    64,
		"maxProcessLifetime":        30,
	}
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(e.config, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCP_PROCESS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "HOME="+filepath.Join(e.dir, "home"), "XDG_STATE_HOME="+filepath.Join(e.dir, "home", "state"))
}

// acked is what the clients were answered during one run.
type acked struct {
	mu         sync.Mutex
	launches   []int // pids of answered process_start calls
	terminated []int // pids of process_terminate calls answered without auditError
	denials    int   // SHELL_BLOCKED answers
}

func TestCrashUnderLoad(t *testing.T) {
	e := newEnv(t)
	n := runs()
	var totalLaunches, totalTerms, totalDenials, torn int
	var killedAfter []time.Duration
	prevRecords := 0
	for i := 0; i < n; i++ {
		startSeq := lastSeq(t, e.log)
		ack, killed := crashOnce(t, e, i)
		killedAfter = append(killedAfter, killed)

		out, code := verify(t, e, "--key", e.key, e.log)
		if code != 0 {
			t.Fatalf("run %d (killed after %v): audit verify exit %d\n%s", i+1, killed, code, out)
		}
		if strings.Contains(out, "partial last line") {
			torn++
		}
		if out, code := verify(t, e, "--key", e.key, filepath.Join(filepath.Dir(e.log), "security-violations.log")); code != 0 {
			t.Fatalf("run %d: audit verify of the violation log: exit %d\n%s", i+1, code, out)
		}
		recs := records(t, e.log, startSeq)
		launched, terminated := map[int]bool{}, map[int]bool{}
		for _, r := range recs {
			pid, _ := r["pid"].(float64)
			switch r["event"] {
			case "launch":
				launched[int(pid)] = true
			case "terminate":
				terminated[int(pid)] = true
			}
		}
		for _, pid := range ack.launches {
			if !launched[pid] {
				t.Fatalf("run %d: the launch of pid %d was answered but has no launch record", i+1, pid)
			}
		}
		for _, pid := range ack.terminated {
			if !terminated[pid] {
				t.Fatalf("run %d: the termination of pid %d was answered but has no terminate record", i+1, pid)
			}
		}
		totalLaunches += len(ack.launches)
		totalTerms += len(ack.terminated)
		totalDenials += ack.denials
		prevRecords = int(lastSeq(t, e.log))
	}
	// One clean start and stop at the end: the log is usable after all that.
	out, code := cleanRun(t, e)
	if code != 0 {
		t.Fatalf("a clean run after %d kills: %s", n, out)
	}
	if out, code := verify(t, e, "--key", e.key, e.log); code != 0 {
		t.Fatalf("after the clean run: audit verify exit %d\n%s", code, out)
	}
	t.Logf("%d SIGKILLs under load (killed %v after the load started); answered: %d launches, %d terminations, %d denials; "+
		"%d records in the log at the last kill, %d verifies with a partial last line; every verify passed, every answered "+
		"launch and termination had its record", n, killedAfter, totalLaunches, totalTerms, totalDenials, prevRecords, torn)
}

// crashOnce starts the server, loads it from 4 clients (launches, denials,
// launch+terminate pairs), SIGKILLs it after a random delay and returns
// what was answered.
func crashOnce(t *testing.T, e *env, run int) (*acked, time.Duration) {
	t.Helper()
	cmd := exec.Command(serverBin, "serve", "--config", e.config)
	cmd.Dir, cmd.Env = e.work, e.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "crash-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: time.Second}, nil)
	if err != nil {
		t.Fatalf("run %d: connect: %v\n%s", run+1, err, stderr.String())
	}
	ack := &acked{}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; !stop.Load(); k++ {
				switch (w + k) % 4 {
				case 0, 1:
					if pid, ok := startPid(ctx, session, "/bin/true"); ok {
						ack.mu.Lock()
						ack.launches = append(ack.launches, pid)
						ack.mu.Unlock()
					}
				case 2:
					res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "process_start",
						Arguments: map[string]any{"executable": "bash", "args": []string{"-c", "id"}}})
					if err == nil && res.IsError && strings.Contains(text(res), "SHELL_BLOCKED") {
						ack.mu.Lock()
						ack.denials++
						ack.mu.Unlock()
					}
				case 3:
					pid, ok := startPid(ctx, session, "/bin/sleep", "20")
					if !ok {
						continue
					}
					ack.mu.Lock()
					ack.launches = append(ack.launches, pid)
					ack.mu.Unlock()
					res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "process_terminate",
						Arguments: map[string]any{"pid": pid, "force": true}})
					if err == nil && !res.IsError && !strings.Contains(text(res), "auditError") {
						ack.mu.Lock()
						ack.terminated = append(ack.terminated, pid)
						ack.mu.Unlock()
					}
				}
			}
		}()
	}
	delay := time.Duration(20+rand.IntN(780)) * time.Millisecond
	time.Sleep(delay)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("run %d: SIGKILL: %v", run+1, err)
	}
	stop.Store(true)
	cancel() // calls in flight are cut: their answers never came
	wg.Wait()
	session.Close()
	cmd.Wait()
	return ack, delay
}

func startPid(ctx context.Context, s *mcp.ClientSession, exe string, args ...string) (int, bool) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "process_start",
		Arguments: map[string]any{"executable": exe, "args": args}})
	if err != nil || res.IsError {
		return 0, false
	}
	var st struct {
		Pid int `json:"pid"`
	}
	b, _ := json.Marshal(res.StructuredContent)
	if json.Unmarshal(b, &st) != nil || st.Pid <= 0 {
		return 0, false
	}
	return st.Pid, true
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	s, _ := json.Marshal(res.StructuredContent)
	b.Write(s)
	return b.String()
}

// cleanRun starts the server and ends its session normally.
func cleanRun(t *testing.T, e *env) (string, int) {
	cmd := exec.Command(serverBin, "serve", "--config", e.config)
	cmd.Dir, cmd.Env = e.work, e.environ()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "crash-test", Version: "1"}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 15 * time.Second}, nil)
	if err != nil {
		return err.Error() + "\n" + stderr.String(), 1
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "process_start",
		Arguments: map[string]any{"executable": "/bin/true"}})
	if err != nil || res.IsError {
		session.Close()
		msg := fmt.Sprint(err)
		if res != nil {
			msg = text(res)
		}
		return "a launch failed after the kills: " + msg + "\n" + stderr.String(), 1
	}
	session.Close()
	return "", 0
}

func verify(t *testing.T, e *env, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(serverBin, append([]string{"audit", "verify"}, args...)...)
	cmd.Env = e.environ()
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// records returns the log's complete records after seq from.
func records(t *testing.T, path string, from uint64) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 || line[len(line)-1] != '\n' {
			continue
		}
		var r map[string]any
		if json.Unmarshal(line, &r) != nil {
			t.Fatalf("a complete line of %s is not JSON: %q", path, line)
		}
		if seq, _ := r["seq"].(float64); uint64(seq) > from {
			out = append(out, r)
		}
	}
	return out
}

func lastSeq(t *testing.T, path string) uint64 {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		return 0
	}
	recs := records(t, path, 0)
	if len(recs) == 0 {
		return 0
	}
	seq, _ := recs[len(recs)-1]["seq"].(float64)
	return uint64(seq)
}
