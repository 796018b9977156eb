package supervisor

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const agentA, agentB = "agent-a", "agent-b"

func baseConfig() *config.Config {
	return &config.Config{
		AllowProcessTermination: true, AllowGroupTermination: true, AllowForcedTermination: true,
		AllowStdinInput: true, AllowOutputCapture: true, MaxOutputBufferSize: 1 << 20,
		MaxProcessLifetime: 3600, ExitedRetentionSeconds: 600,
	}
}

// fakeAudit keeps records; fail, when set, makes matching records fail.
type fakeAudit struct {
	mu   sync.Mutex
	recs []audit.Record
	fail func(audit.Record) bool
}

func (f *fakeAudit) Record(r audit.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, r)
	if f.fail != nil && f.fail(r) {
		return errors.New("disk full")
	}
	return nil
}

func (f *fakeAudit) events(event string, pid int) []audit.Record {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []audit.Record
	for _, r := range f.recs {
		if r.Event == event && (pid == 0 || r.PID == pid) {
			out = append(out, r)
		}
	}
	return out
}

func newSup(t *testing.T, cfg *config.Config, mod ...func(*Options)) (*Supervisor, *fakeAudit) {
	t.Helper()
	fa := &fakeAudit{}
	o := Options{Config: cfg, Audit: fa}
	for _, m := range mod {
		m(&o)
	}
	s := New(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return s, fa
}

// specFor builds a Spec as the policy would: resolved path and identity.
func specFor(t testing.TB, exe string, args ...string) *policy.Spec {
	t.Helper()
	p, err := exec.LookPath(exe)
	if err != nil {
		t.Skipf("%s not available: %v", exe, err)
	}
	if p, err = filepath.EvalSymlinks(p); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return &policy.Spec{Path: p, Dev: uint64(st.Dev), Ino: st.Ino, Argv: append([]string{filepath.Base(exe)}, args...),
		Env: []string{"HOME=/tmp", "SECRET_TOKEN=hunter2"}, Dir: os.TempDir()}
}

func python(t testing.TB, code string) *policy.Spec {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 not available")
	}
	return specFor(t, "/usr/bin/python3", "-c", code)
}

func start(t *testing.T, s *Supervisor, agent string, spec *policy.Spec, o StartOptions) *Status {
	t.Helper()
	st, err := s.Start(agent, spec, o)
	if err != nil {
		t.Fatalf("Start %v: %v", spec.Argv, err)
	}
	return st
}

func capture() StartOptions { return StartOptions{Tool: "process_start", CaptureOutput: true} }

func waitExit(t *testing.T, s *Supervisor, agent string, pid int) *Status {
	t.Helper()
	st, err := s.Wait(context.Background(), agent, pid, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != StateExited {
		t.Fatalf("process %d still running after 20 s", pid)
	}
	return st
}

func wantCode(t *testing.T, err error, code errcode.Code) *errcode.Error {
	t.Helper()
	var e *errcode.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
	return e
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])[0] != "Z"
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func output(t *testing.T, s *Supervisor, agent string, pid int) (string, string) {
	t.Helper()
	o, err := s.Output(agent, pid, OutputQuery{})
	if err != nil {
		t.Fatal(err)
	}
	return string(o.Stdout), string(o.Stderr)
}
