//go:build linux

package e2e

import (
	"context"
	"regexp"
	"sync"
	"testing"
	"time"
)

// TestConcurrencyLimitIsAtomic: 50 parallel launches against a limit of 3
// start exactly 3.
func TestConcurrencyLimitIsAtomic(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/sleep")
	cfg["maxConcurrentProcesses"] = 3
	s := startServer(t, e, cfg)

	const n = 50
	type outcome struct {
		r   toolResult
		err error
	}
	results := make([]outcome, n)
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.tryCall(ctx, "process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
			results[i] = outcome{r, err}
		}()
	}
	wg.Wait()

	started, limited := 0, 0
	for i, o := range results {
		switch {
		case o.err != nil:
			t.Errorf("call %d: %v", i, o.err)
		case !o.r.IsError:
			started++
		default:
			te, err := o.r.err()
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			} else if te.Code != "CONCURRENCY_LIMIT" {
				t.Errorf("call %d: code %s, want CONCURRENCY_LIMIT (%s)", i, te.Code, te.Message)
			} else {
				limited++
			}
		}
	}
	if started != 3 || limited != n-3 {
		t.Fatalf("%d started, %d CONCURRENCY_LIMIT; want 3 and %d", started, limited, n-3)
	}
	var list struct {
		Processes []status `json:"processes"`
	}
	s.ok("process_list", map[string]any{"state": "running"}, &list)
	if len(list.Processes) != 3 {
		t.Errorf("%d processes running, want 3", len(list.Processes))
	}
	denied := 0
	for _, r := range e.auditRecords(t) {
		if r["code"] == "CONCURRENCY_LIMIT" {
			denied++
		}
	}
	if denied != n-3 {
		t.Errorf("%d audit records with CONCURRENCY_LIMIT, want %d", denied, n-3)
	}

	// A slot freed by termination can be used again.
	if len(list.Processes) > 0 {
		s.ok("process_terminate", map[string]any{"pid": list.Processes[0].Pid, "force": true}, nil)
		s.start(map[string]any{"executable": "/bin/sleep", "args": []string{"30"}})
		s.failCode("process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}}, "CONCURRENCY_LIMIT")
	}
}

// TestRateLimit: the third launch within a minute is refused and the error
// says when to retry.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/echo")
	cfg["maxLaunchesPerMinute"] = 2
	s := startServer(t, e, cfg)
	for range 2 {
		s.start(map[string]any{"executable": "/bin/echo", "args": []string{"ok"}})
	}
	te := s.failCode("process_start", map[string]any{"executable": "/bin/echo", "args": []string{"third"}}, "RATE_LIMITED")
	if te.RetryAfterSeconds <= 0 && !regexp.MustCompile(`(?i)(retry|again).*\d+\s*(s\b|sec)`).MatchString(te.Message+" "+te.Remedy) {
		t.Errorf("RATE_LIMITED error says nothing about when to retry: %+v", te)
	}
	// process_run is a launch too.
	s.failCode("process_run", map[string]any{"executable": "/bin/echo", "args": []string{"fourth"}}, "RATE_LIMITED")
	found := false
	for _, r := range e.auditRecords(t) {
		if r["code"] == "RATE_LIMITED" && r["event"] == "security_violation" {
			found = true
		}
	}
	if !found {
		t.Error("no security_violation record with code RATE_LIMITED")
	}
}
