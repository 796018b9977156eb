package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
)

func TestStartCapturesAndRecords(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	st := start(t, s, agentA, specFor(t, "echo", "hello"), capture())
	if st.State != StateRunning && st.State != StateExited || st.Kind != KindProcess || st.Command == "" || !slices.Equal(st.Args, []string{"hello"}) {
		t.Fatalf("start status %+v", st)
	}
	if !slices.Contains(st.Sandbox.Applied, "exec-by-fd") {
		t.Fatalf("sandbox %+v", st.Sandbox)
	}
	end := waitExit(t, s, agentA, st.Pid)
	if end.ExitCode == nil || *end.ExitCode != 0 || end.TerminationReason != ReasonExited || end.Signal != "" {
		t.Fatalf("exit status %+v", end)
	}
	if out, _ := output(t, s, agentA, st.Pid); out != "hello\n" {
		t.Fatalf("stdout %q", out)
	}
	l := fa.events("launch", st.Pid)
	if len(l) != 1 || l[0].Agent != agentA || !slices.Equal(l[0].EnvNames, []string{"HOME", "SECRET_TOKEN"}) || l[0].Executable != st.Command {
		t.Fatalf("launch records %+v", l)
	}
	for _, r := range fa.recs {
		for _, f := range append(r.Args, r.Reason, r.Cwd) {
			if strings.Contains(f, "hunter2") {
				t.Fatalf("env value leaked into audit: %+v", r)
			}
		}
	}
	e := fa.events("exit", st.Pid)
	if len(e) != 1 || e[0].ExitCode == nil || *e[0].ExitCode != 0 || e[0].TerminationReason != ReasonExited {
		t.Fatalf("exit records %+v", e)
	}
}

func TestOtherAgentsProcessesDoNotExist(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	st := start(t, s, agentA, specFor(t, "sleep", "30"), capture())
	calls := map[string]func() error{
		"status":    func() error { _, err := s.Status(agentB, st.Pid); return err },
		"output":    func() error { _, err := s.Output(agentB, st.Pid, OutputQuery{}); return err },
		"stdin":     func() error { _, err := s.SendStdin(agentB, st.Pid, []byte("x"), false, "test"); return err },
		"terminate": func() error { _, err := s.Terminate(agentB, st.Pid, true, 0, "test"); return err },
		"stats":     func() error { _, err := s.Stats(agentB, st.Pid, false); return err },
		"wait":      func() error { _, err := s.Wait(context.Background(), agentB, st.Pid, time.Millisecond); return err },
		"unknown":   func() error { _, err := s.Status(agentA, 1); return err },
		"addgroup": func() error {
			g, _ := s.CreateGroup(agentB, "g", false, "process_create_group")
			return s.AddToGroup(agentB, g, st.Pid, "process_add_to_group")
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), errcode.ProcessNotFound) })
	}
	if len(s.List(agentB, "")) != 0 || len(s.Live(agentB)) != 0 {
		t.Fatal("agent B sees agent A's process")
	}
	if !alive(st.Pid) || !slices.Equal(s.Live(agentA), []int{st.Pid}) {
		t.Fatal("agent A's process was touched")
	}
}

func TestStartRefusals(t *testing.T) {
	strict := baseConfig()
	strict.StrictResourceEnforcement = true
	withLimit := specFor(t, "true")
	withLimit.Limits = config.ResourceLimits{MaxMemoryMB: 64}
	tests := []struct {
		name string
		cfg  *config.Config
		spec *policy.Spec
		o    StartOptions
		code errcode.Code
	}{
		{"pty with stdin null", baseConfig(), specFor(t, "true"), StartOptions{PTY: true, Stdin: StdinNull}, errcode.InvalidInput},
		{"strict with an unenforceable limit", strict, withLimit, StartOptions{}, errcode.LayerUnavailable},
		{"bad stdin mode", baseConfig(), specFor(t, "true"), StartOptions{Stdin: "tty"}, errcode.InvalidInput},
		{"nil spec", baseConfig(), nil, StartOptions{}, errcode.InvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, fa := newSup(t, tc.cfg)
			_, err := s.Start(agentA, tc.spec, tc.o)
			wantCode(t, err, tc.code)
			if len(fa.events("launch", 0)) != 0 {
				t.Fatal("a refused launch was recorded as a launch")
			}
		})
	}
	// Without strict, the limit runs and is reported as not enforced.
	s, _ := newSup(t, baseConfig())
	st := start(t, s, agentA, withLimit, StartOptions{})
	if len(st.Sandbox.NotEnforced) != 1 || !strings.HasPrefix(st.Sandbox.NotEnforced[0], "maxMemoryMB") || st.Limits.MaxMemoryMB != 64 {
		t.Fatalf("sandbox report %+v limits %+v", st.Sandbox, st.Limits)
	}
}

func TestAuditFailureKillsTheLaunch(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	fa.fail = func(r audit.Record) bool { return r.Event == "launch" }
	_, err := s.Start(agentA, specFor(t, "sleep", "30"), capture())
	wantCode(t, err, errcode.Internal)
	l := fa.events("launch", 0)
	if len(l) != 1 || l[0].PID == 0 {
		t.Fatalf("records %+v", l)
	}
	if alive(l[0].PID) {
		t.Fatalf("process %d survives a failed launch record", l[0].PID)
	}
	if len(s.List(agentA, "")) != 0 {
		t.Fatal("failed launch is listed")
	}
	// The target never ran: the record is synced while the child prepares,
	// and the child is killed at its gate when the record fails.
	dir := markerDir(t)
	marker := filepath.Join(dir, "ran")
	_, err = s.Start(agentA, specFor(t, "sh", "-c", "echo > "+marker), capture())
	wantCode(t, err, errcode.Internal)
	if _, serr := os.Stat(marker); serr == nil {
		t.Fatal("the target ran although its launch record failed")
	}
	// The reservation was given back: a concurrency limit of 1 still admits
	// one; and the same target, recorded, does write its marker.
	fa.fail = nil
	s.cfg.MaxConcurrentProcesses = 1
	st := start(t, s, agentA, specFor(t, "sh", "-c", "echo > "+marker), capture())
	waitExit(t, s, agentA, st.Pid)
	if _, serr := os.Stat(marker); serr != nil {
		t.Fatalf("the recorded launch did not write its marker: %v", serr)
	}
}

// A launch whose record is on disk (written while its child prepares)
// and whose child then fails a step has an exit record that says so; its
// target never ran.
func TestSetupFailureAfterTheRecordIsRecorded(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	marker := filepath.Join(markerDir(t), "ran")
	spec := specFor(t, "sh", "-c", "echo > "+marker)
	st := start(t, s, agentA, spec, capture()) // the marker is written where the target can
	waitExit(t, s, agentA, st.Pid)
	if err := os.Remove(marker); err != nil {
		t.Fatalf("the control launch wrote no marker: %v", err)
	}
	fa.mu.Lock()
	fa.recs = nil
	fa.mu.Unlock()
	spec.Limits.MaxFileDescriptors = 1 << 30 // above fs.nr_open: the child's setrlimit fails
	_, err := s.Start(agentA, spec, capture())
	wantCode(t, err, errcode.LayerUnavailable)
	if _, serr := os.Stat(marker); serr == nil {
		t.Fatal("the target ran although a step failed")
	}
	launches := fa.events(audit.EventLaunch, 0)
	if len(launches) == 0 {
		t.Skip("this launch went through an init stage, which is recorded only once ready: nothing to check")
	}
	exits := fa.events(audit.EventExit, launches[0].PID)
	if len(launches) != 1 || len(exits) != 1 || exits[0].Decision != "deny" || exits[0].Layer != "resource-limits" ||
		!strings.HasPrefix(exits[0].Reason, "setup failed: ") {
		t.Fatalf("launch records %+v, exit records %+v", launches, exits)
	}
	if l := s.List(agentA, ""); len(l) != 1 || l[0].Pid != st.Pid {
		t.Fatalf("failed launch is listed: %+v", l)
	}
}

func TestStdin(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	st := start(t, s, agentA, specFor(t, "cat"), capture())
	n, err := s.SendStdin(agentA, st.Pid, []byte("abc\n"), true, "test")
	if err != nil || n != 4 {
		t.Fatalf("SendStdin = %d, %v", n, err)
	}
	waitExit(t, s, agentA, st.Pid)
	if out, _ := output(t, s, agentA, st.Pid); out != "abc\n" {
		t.Fatalf("echoed %q", out)
	}
	if r := fa.events("stdin", st.Pid); len(r) != 1 || r[0].Bytes != 4 {
		t.Fatalf("stdin records %+v", r)
	}
	_, err = s.SendStdin(agentA, st.Pid, []byte("late"), false, "test")
	wantCode(t, err, errcode.InvalidInput)

	null := start(t, s, agentA, specFor(t, "cat"), StartOptions{CaptureOutput: true, Stdin: StdinNull})
	if end := waitExit(t, s, agentA, null.Pid); *end.ExitCode != 0 {
		t.Fatalf("cat on /dev/null: %+v", end)
	}

	cfg := baseConfig()
	cfg.AllowStdinInput = false
	s2, _ := newSup(t, cfg)
	st2 := start(t, s2, agentA, specFor(t, "cat"), capture())
	_, err = s2.SendStdin(agentA, st2.Pid, []byte("x"), false, "test")
	wantCode(t, err, errcode.StdinNotAllowed)
	// Its stdin is /dev/null, so it does not hang waiting for input.
	waitExit(t, s2, agentA, st2.Pid)
}

func TestOutputCaptureDisabled(t *testing.T) {
	off := baseConfig()
	off.AllowOutputCapture = false
	for _, tc := range []struct {
		name string
		cfg  *config.Config
		o    StartOptions
	}{
		{"policy", off, capture()},
		{"request", baseConfig(), StartOptions{CaptureOutput: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSup(t, tc.cfg)
			st := start(t, s, agentA, specFor(t, "echo", "x"), tc.o)
			waitExit(t, s, agentA, st.Pid)
			_, err := s.Output(agentA, st.Pid, OutputQuery{})
			wantCode(t, err, errcode.OutputCaptureDisabled)
		})
	}
}

func TestOutputOffsetsAndDrops(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxOutputBufferSize = 1000
	s, _ := newSup(t, cfg)
	st := start(t, s, agentA, specFor(t, "head", "-c", "100000", "/dev/zero"), capture())
	waitExit(t, s, agentA, st.Pid)
	zero := int64(0)
	at := int64(99500)
	tests := []struct {
		name      string
		q         OutputQuery
		wantLen   int
		wantStart int64
		wantNext  int64
	}{
		{"from 0 starts at oldest retained", OutputQuery{Stream: "stdout", Offset: StreamOffsets{Stdout: &zero}}, 1000, 99000, 100000},
		{"offset inside", OutputQuery{Stream: "stdout", Offset: StreamOffsets{Stdout: &at}}, 500, 99500, 100000},
		{"max bytes", OutputQuery{Stream: "stdout", MaxBytes: 10}, 10, 99000, 99010},
		{"tail", OutputQuery{Stream: "stdout", Tail: 7}, 7, 99993, 100000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := s.Output(agentA, st.Pid, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(o.Stdout) != tc.wantLen || o.Offset.Stdout != tc.wantStart || o.NextOffset.Stdout != tc.wantNext ||
				o.StdoutBytes != 100000 || o.DroppedBytes.Stdout != 99000 {
				t.Fatalf("got len %d %+v", len(o.Stdout), o)
			}
		})
	}
	// The bytes as written (NULs here): encoding them is the caller's.
	o, err := s.Output(agentA, st.Pid, OutputQuery{Tail: 3})
	if err != nil || string(o.Stdout) != "\x00\x00\x00" {
		t.Fatalf("tail 3: %q %v", o.Stdout, err)
	}
	_, err = s.Output(agentA, st.Pid, OutputQuery{Stream: "both!"})
	wantCode(t, err, errcode.InvalidInput)
}

func TestLifetime(t *testing.T) {
	strict := baseConfig()
	strict.StrictResourceEnforcement = true
	short := baseConfig()
	short.MaxProcessLifetime = 1
	tests := []struct {
		name       string
		cfg        *config.Config
		lifetime   time.Duration
		wantReason string
		wantSignal string
	}{
		{"request timeout", baseConfig(), 300 * time.Millisecond, ReasonTimeout, "SIGTERM"},
		{"maxProcessLifetime", short, time.Second, ReasonLifetime, "SIGTERM"},
		{"strict kills at once", strict, 300 * time.Millisecond, ReasonTimeout, "SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSup(t, tc.cfg)
			sp := specFor(t, "sleep", "30")
			sp.Lifetime = tc.lifetime
			st := start(t, s, agentA, sp, capture())
			end := waitExit(t, s, agentA, st.Pid)
			if end.TerminationReason != tc.wantReason || end.Signal != tc.wantSignal || end.ExitCode != nil {
				t.Fatalf("status %+v", end)
			}
		})
	}
}

func TestTerminate(t *testing.T) {
	ignoring := "import signal,time,sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(30)"
	tests := []struct {
		name       string
		spec       *policy.Spec
		force      bool
		timeout    time.Duration
		wantReason string
		wantSignal string
	}{
		{"graceful", specFor(t, "sleep", "30"), false, 0, ReasonTerminated, "SIGTERM"},
		{"forced", specFor(t, "sleep", "30"), true, 0, ReasonKilled, "SIGKILL"},
		{"escalated", python(t, ignoring), false, 300 * time.Millisecond, ReasonKilled, "SIGKILL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, fa := newSup(t, baseConfig())
			st := start(t, s, agentA, tc.spec, capture())
			eventually(t, "ready", func() bool {
				out, _ := output(t, s, agentA, st.Pid)
				return tc.spec.Argv[0] != "python3" || out == "ready\n"
			})
			r, err := s.Terminate(agentA, st.Pid, tc.force, tc.timeout, "test")
			if err != nil {
				t.Fatal(err)
			}
			if r.TerminationReason != tc.wantReason || r.Signal != tc.wantSignal || alive(st.Pid) {
				t.Fatalf("result %+v", r)
			}
			if len(fa.events("terminate", st.Pid)) != 1 {
				t.Fatal("no terminate record")
			}
			// Terminating an exited process returns its status.
			again, err := s.Terminate(agentA, st.Pid, false, 0, "test")
			if err != nil || *again != *r {
				t.Fatalf("again %+v %v", again, err)
			}
		})
	}
}

func TestTerminationPolicy(t *testing.T) {
	noTerm := baseConfig()
	noTerm.AllowProcessTermination = false
	noForce := baseConfig()
	noForce.AllowForcedTermination = false
	noGroup := baseConfig()
	noGroup.AllowGroupTermination = false
	tests := []struct {
		name  string
		cfg   *config.Config
		call  func(s *Supervisor, pid int) error
		alive bool
	}{
		{"allowProcessTermination false", noTerm, func(s *Supervisor, pid int) error { _, err := s.Terminate(agentA, pid, false, 0, "test"); return err }, true},
		{"allowForcedTermination false", noForce, func(s *Supervisor, pid int) error { _, err := s.Terminate(agentA, pid, true, 0, "test"); return err }, true},
		{"allowGroupTermination false", noGroup, func(s *Supervisor, pid int) error {
			g, _ := s.CreateGroup(agentA, "g", false, "process_create_group")
			if err := s.AddToGroup(agentA, g, pid, "process_add_to_group"); err != nil {
				return err
			}
			_, _, err := s.TerminateGroup(agentA, g, false, "process_terminate_group")
			return err
		}, true},
		{"forced group without allowForcedTermination", noForce, func(s *Supervisor, pid int) error {
			g, _ := s.CreateGroup(agentA, "g", false, "process_create_group")
			s.AddToGroup(agentA, g, pid, "process_add_to_group")
			_, _, err := s.TerminateGroup(agentA, g, true, "process_terminate_group")
			return err
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := newSup(t, tc.cfg)
			st := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
			e := wantCode(t, tc.call(s, st.Pid), errcode.TerminationNotAllowed)
			if !e.Violation || !alive(st.Pid) {
				t.Fatalf("violation %v alive %v", e.Violation, alive(st.Pid))
			}
		})
	}
}

func TestConcurrencyIsAtomic(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConcurrentProcesses = 3
	s, _ := newSup(t, cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[errcode.Code]int{}
	ok := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Start(agentA, specFor(t, "sleep", "30"), StartOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes[errcode.As(err).Code]++
			} else {
				ok++
			}
		}()
	}
	wg.Wait()
	if ok != 3 || codes[errcode.ConcurrencyLimit] != 47 {
		t.Fatalf("started %d, refusals %v", ok, codes)
	}
	pids := s.Live(agentA)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	for _, pid := range pids {
		if alive(pid) {
			t.Fatalf("pid %d survived Shutdown", pid)
		}
	}
	for _, st := range s.List(agentA, "") {
		if st.TerminationReason != ReasonServerShutdown {
			t.Fatalf("reason %+v", st)
		}
	}
}

func TestQuotas(t *testing.T) {
	type step struct {
		agent   string
		advance time.Duration
		code    errcode.Code // "" = allowed
		retry   int
	}
	tests := []struct {
		name  string
		mod   func(*config.Config)
		steps []step
	}{
		{"per agent concurrency", func(c *config.Config) { c.MaxConcurrentProcessesPerAgent = 1 },
			[]step{{agentA, 0, "", 0}, {agentA, 0, errcode.ConcurrencyLimit, 0}, {agentB, 0, "", 0}}},
		{"total over the server's life", func(c *config.Config) { c.MaxTotalProcesses = 2 },
			[]step{{agentA, 0, "", 0}, {agentB, 0, "", 0}, {agentA, 0, errcode.TotalLimit, 0}}},
		{"per minute with cooldown", func(c *config.Config) { c.MaxLaunchesPerMinute = 2; c.RateLimitCooldownSeconds = 120 },
			[]step{{agentA, 0, "", 0}, {agentA, 10 * time.Second, "", 0}, {agentA, 10 * time.Second, errcode.RateLimited, 120},
				{agentB, 0, "", 0}, // other agents have their own window
				{agentA, 61 * time.Second, errcode.RateLimited, 59}, // window free, still cooling down
				{agentA, 60 * time.Second, "", 0}}},
		{"per minute, window decides the retry", func(c *config.Config) { c.MaxLaunchesPerMinute = 1 },
			[]step{{agentA, 0, "", 0}, {agentA, 20 * time.Second, errcode.RateLimited, 40}, {agentA, 40 * time.Second, "", 0}}},
		{"per hour; denials do not count", func(c *config.Config) { c.MaxLaunchesPerHour = 2 },
			[]step{{agentA, 0, "", 0}, {agentA, 0, "", 0}, {agentA, 0, errcode.RateLimited, 3600}, {agentA, 3600 * time.Second, "", 0},
				{agentA, 0, "", 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.mod(cfg)
			var mu sync.Mutex
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			s, _ := newSup(t, cfg, func(o *Options) { o.Now = clock })
			for i, st := range tc.steps {
				mu.Lock()
				now = now.Add(st.advance)
				mu.Unlock()
				_, err := s.Start(st.agent, specFor(t, "sleep", "30"), StartOptions{})
				if st.code == "" {
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					continue
				}
				e := wantCode(t, err, st.code)
				if st.retry != 0 && (e.RetryAfterSeconds != st.retry || !strings.Contains(e.Message, "retry in")) {
					t.Fatalf("step %d: retry %d (%s), want %d", i, e.RetryAfterSeconds, e.Message, st.retry)
				}
			}
		})
	}
}

func TestRetention(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 1
	s, _ := newSup(t, cfg)
	st := start(t, s, agentA, specFor(t, "true"), capture())
	waitExit(t, s, agentA, st.Pid)
	if _, err := s.Status(agentA, st.Pid); err != nil {
		t.Fatalf("exited process not readable right after exit: %v", err)
	}
	eventually(t, "forgotten", func() bool {
		_, err := s.Status(agentA, st.Pid)
		return err != nil && errcode.As(err).Code == errcode.ProcessNotFound
	})
}

func TestRun(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	var mu sync.Mutex
	var updates []Progress
	progress := func(u Progress) { mu.Lock(); updates = append(updates, u); mu.Unlock() }
	r, err := s.Run(context.Background(), agentA, specFor(t, "echo", "ran"), capture(), RunOptions{Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Stdout) != "ran\n" || r.ExitCode == nil || *r.ExitCode != 0 || r.TerminationReason != ReasonExited || r.Truncated ||
		r.StdoutBytes != 4 || r.Offset.Stdout != 0 || r.NextOffset.Stdout != 4 {
		t.Fatalf("result %+v", r)
	}
	mu.Lock()
	if len(updates) > 1 || len(updates) == 1 && updates[0].Pid != r.Pid {
		t.Fatalf("progress %+v", updates)
	}
	mu.Unlock()

	begin := time.Now()
	r, err = s.Run(context.Background(), agentA, specFor(t, "sleep", "30"), capture(), RunOptions{WaitTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.TerminationReason != ReasonTimeout || r.State != StateExited || alive(r.Pid) || time.Since(begin) > 15*time.Second {
		t.Fatalf("timed-out run %+v", r)
	}
}

// TestRunResultCap: the result carries the tail of each stream, at most
// MaxResultBytes, with offsets that Output continues from.
func TestRunResultCap(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	// 100000 lines "line NNNNNN\n" (12 bytes each) on stdout, "é" x 3000 on stderr.
	code := "import sys\nfor i in range(100000): sys.stdout.write('line %06d\\n' % i)\nsys.stderr.write('\\u00e9' * 3000)"
	r, err := s.Run(context.Background(), agentA, python(t, code), capture(), RunOptions{MaxResultBytes: 1001})
	if err != nil {
		t.Fatal(err)
	}
	if r.StdoutBytes != 1200000 || r.StderrBytes != 6000 || !r.Truncated {
		t.Fatalf("totals %d %d truncated %v", r.StdoutBytes, r.StderrBytes, r.Truncated)
	}
	if len(r.Stdout) != 1001 || r.Offset.Stdout != 1200000-1001 || r.NextOffset.Stdout != 1200000 || !strings.HasSuffix(string(r.Stdout), "line 099999\n") {
		t.Fatalf("stdout tail %d bytes at %d: %q", len(r.Stdout), r.Offset.Stdout, r.Stdout[:20])
	}
	// 1001 bytes of 2-byte runes: the cut inside a rune moves the start on one byte.
	if len(r.Stderr) != 1000 || r.Offset.Stderr != 5000 || !utf8.Valid(r.Stderr) {
		t.Fatalf("stderr tail %d bytes at %d", len(r.Stderr), r.Offset.Stderr)
	}
	// The rest, read on from the start to the tail's offset.
	var got strings.Builder
	off := r.DroppedBytes.Stdout // the ring keeps the last maxOutputBuffer bytes
	for off < r.Offset.Stdout {
		o, err := s.Output(agentA, r.Pid, OutputQuery{Stream: "stdout", Offset: StreamOffsets{Stdout: &off}, MaxBytes: min(65536, int(r.Offset.Stdout-off))})
		if err != nil {
			t.Fatal(err)
		}
		got.Write(o.Stdout)
		off = o.NextOffset.Stdout
	}
	got.Write(r.Stdout)
	var want strings.Builder
	for i := range 100000 {
		fmt.Fprintf(&want, "line %06d\n", i)
	}
	if got.String() != want.String()[r.DroppedBytes.Stdout:] {
		t.Fatalf("stdout read on from the offsets differs (%d bytes, want %d)", got.Len(), want.Len()-int(r.DroppedBytes.Stdout))
	}
}

// TestRunProgress: progress carries whole lines, coalesced, at most one
// update per ProgressInterval, and a heartbeat while the process is silent.
func TestRunProgress(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	var mu sync.Mutex
	var updates []Progress
	var times []time.Time
	progress := func(u Progress) {
		mu.Lock()
		updates, times = append(updates, u), append(times, time.Now())
		mu.Unlock()
	}
	// 2000 lines written in 1-byte writes over ~1 s, then silence for
	// HeartbeatInterval*2.
	code := fmt.Sprintf("import os,time\nfor i in range(2000):\n  for c in 'l%%04d\\n' %% i: os.write(1, c.encode())\n  if i %% 200 == 0: time.sleep(0.1)\ntime.sleep(%g)",
		(2*HeartbeatInterval + HeartbeatInterval/2).Seconds())
	r, err := s.Run(context.Background(), agentA, python(t, code), capture(), RunOptions{Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var all strings.Builder
	beats := 0
	for i, u := range updates {
		if len(u.Stdout) > 0 && !bytes.HasSuffix(u.Stdout, []byte("\n")) {
			t.Errorf("update %d is not whole lines: %q", i, u.Stdout)
		}
		if u.Skipped.Stdout != 0 {
			t.Errorf("update %d skipped %d bytes", i, u.Skipped.Stdout)
		}
		all.Write(u.Stdout)
		if i > 0 {
			if d := times[i].Sub(times[i-1]); d < ProgressInterval/2 {
				t.Errorf("updates %d and %d %v apart", i-1, i, d)
			}
		}
		if u.Heartbeat() {
			beats++
		}
	}
	var want strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&want, "l%04d\n", i)
	}
	if all.String() != want.String() {
		t.Errorf("progress lines differ from the output (%d bytes, want %d)", all.Len(), want.Len())
	}
	// 10000 one-byte writes, coalesced: far fewer updates than writes.
	if n := len(updates) - beats; n > 40 {
		t.Errorf("%d output updates for ~1 s of output", n)
	}
	if beats < 2 {
		t.Errorf("%d heartbeats during %v of silence, want >= 2", beats, 2*HeartbeatInterval)
	}
	if r.ExitCode == nil || *r.ExitCode != 0 {
		t.Errorf("run %+v", r)
	}
}

func TestStats(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	st := start(t, s, agentA, python(t, "import time\nx=bytearray(30<<20)\nfor i in range(len(x)//4096): x[i*4096]=1\nprint('ok',flush=True)\nt=time.time()\nwhile time.time()-t<30: pass"), capture())
	eventually(t, "allocation", func() bool { o, _ := output(t, s, agentA, st.Pid); return o == "ok\n" })
	eventually(t, "a sample", func() bool {
		h, err := s.Stats(agentA, st.Pid, true)
		return err == nil && len(h.History) >= 1
	})
	got, err := s.Stats(agentA, st.Pid, true)
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryMB < 30 || got.ThreadCount < 1 || got.ProcessCount != 1 || got.CpuPercent <= 1 || got.IoWrite < 3 {
		t.Fatalf("stats %+v", got)
	}
	full, _ := s.Status(agentA, st.Pid)
	if full.Stats == nil || full.Stats.MemoryMB < 30 {
		t.Fatalf("status stats %+v", full.Stats)
	}
}

// The launch report names the isolation layers the child got, not only its
// limits.
func TestLaunchReportListsIsolation(t *testing.T) {
	cfg := baseConfig()
	cfg.EnableNamespaces = true
	cfg.Namespaces.UTS = true
	s, _ := newSup(t, cfg)
	st := start(t, s, agentA, specFor(t, "sleep", "30"), StartOptions{})
	found := false
	for _, a := range st.Sandbox.Applied {
		if strings.HasPrefix(a, "namespaces (") && strings.Contains(a, "uts") {
			found = true
		}
	}
	if !found {
		t.Errorf("sandbox.applied %q does not name the uts namespace", st.Sandbox.Applied)
	}
}

// In a pid namespace the child is the namespace's init: terminating it ends
// every process of the namespace (the kernel kills the rest when its init
// dies), even one that ignores SIGTERM.
func TestTerminateKillsTheWholePidNamespace(t *testing.T) {
	cfg := baseConfig()
	cfg.EnableNamespaces = true
	cfg.Namespaces.PID = true
	cfg.Namespaces.Mount = true
	s, _ := newSup(t, cfg)
	st := start(t, s, agentA, specFor(t, "sh", "-c", "trap '' TERM; sleep 3011 & sleep 3011 & wait"), StartOptions{})
	inNS := func() []int {
		var pids []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && string(b) == "sleep\x003011\x00" && alive(pid) {
				pids = append(pids, pid)
			}
		}
		return pids
	}
	eventually(t, "both sleeps of the namespace are running", func() bool { return len(inNS()) == 2 })
	res, err := s.Terminate(agentA, st.Pid, false, time.Second, "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.TerminationReason != ReasonKilled {
		t.Errorf("the namespace's init ignores SIGTERM: reason %q, want killed", res.TerminationReason)
	}
	eventually(t, "no process of the namespace is left", func() bool { return len(inNS()) == 0 })
}

// A call whose audit record cannot be written fails with INTERNAL (SPEC 6),
// for every state change, not only launches.
func TestAuditFailureFailsStateChanges(t *testing.T) {
	s, fa := newSup(t, baseConfig())
	st := start(t, s, agentA, specFor(t, "cat"), StartOptions{Stdin: StdinPipe})
	fa.mu.Lock()
	fa.fail = func(r audit.Record) bool { return r.Event != audit.EventExit }
	fa.mu.Unlock()
	_, err := s.SendStdin(agentA, st.Pid, []byte("x\n"), false, "test")
	wantCode(t, err, errcode.Internal)
	_, err = s.CreateGroup(agentA, "g", false, "process_create_group")
	wantCode(t, err, errcode.Internal)
}

// Past maxRetainedOutputBytes the oldest exited process's output goes
// first; its status and byte counts stay.
func TestRetainedOutputCap(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxOutputBufferSize = 64 << 10
	cfg.MaxRetainedOutputBytes = 100 << 10
	s, _ := newSup(t, cfg)
	run := func() int {
		st := start(t, s, agentA, specFor(t, "head", "-c", "60000", "/dev/zero"), capture())
		if ex := waitExit(t, s, agentA, st.Pid); ex.ExitCode == nil || *ex.ExitCode != 0 {
			t.Fatalf("head: %+v", ex)
		}
		return st.Pid
	}
	first := run()
	second := run()
	o1, err := s.Output(agentA, first, OutputQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(o1.Stdout) != 0 || o1.StdoutBytes != 60000 || o1.DroppedBytes.Stdout != 60000 {
		t.Errorf("first process after the cap: %d bytes kept, %d written, %d dropped; want 0, 60000, 60000",
			len(o1.Stdout), o1.StdoutBytes, o1.DroppedBytes.Stdout)
	}
	if st, err := s.Status(agentA, first); err != nil || st.State != StateExited || st.ExitCode == nil || *st.ExitCode != 0 {
		t.Errorf("first process's status after its output went: %+v %v", st, err)
	}
	if o2, err := s.Output(agentA, second, OutputQuery{}); err != nil || len(o2.Stdout) != 60000 {
		t.Errorf("second process: %d bytes kept, want all 60000 (%v)", len(o2.Stdout), err)
	}
	if u := s.pool.retained(); u > cfg.MaxRetainedOutputBytes {
		t.Errorf("retained %d past maxRetainedOutputBytes %d", u, cfg.MaxRetainedOutputBytes)
	}
}
