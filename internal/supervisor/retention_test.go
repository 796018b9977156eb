package supervisor

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestRetentionZero: exitedRetentionSeconds 0 forgets a process at its
// exit (at the janitor's next pass), as configuration.md says; before, 0
// was read as the default (600 s). A process_run still gets its whole
// output: the process is kept until its result is read.
func TestRetentionZero(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 0
	s, _ := newSup(t, cfg)
	st := start(t, s, agentA, specFor(t, "true"), capture())
	if _, err := s.Wait(context.Background(), agentA, st.Pid, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, "forgotten within a pass of the janitor", func() bool {
		_, err := s.Status(agentA, st.Pid)
		return err != nil && errcode.As(err).Code == errcode.ProcessNotFound
	})
	for i := range 30 {
		want := fmt.Sprintf("run %d", i)
		r, err := s.Run(context.Background(), agentA, specFor(t, "echo", want), capture(), RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Stdout) != want+"\n" {
			t.Fatalf("run %d: stdout %q, want %q", i, r.Stdout, want+"\n")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, p := range s.procs {
		if p.reading.Load() != 0 {
			t.Errorf("process %d still marked as read by its process_run", pid)
		}
	}
}

// TestSweepStopsAtTheFirstKept: the janitor's pass forgets the processes
// that exited before the cutoff, earliest first, and leaves the rest for a
// later pass; one a process_run is still reading stays too, without
// holding up those behind it.
func TestSweepStopsAtTheFirstKept(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(pid, sec int) *proc {
		p := &proc{pid: pid, exited: true, end: t0.Add(time.Duration(sec) * time.Second)}
		s.procs[pid] = p
		s.exited = append(s.exited, p)
		return p
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	mk(-1, 1)
	read := mk(-2, 2)
	read.reading.Store(1)
	mk(-3, 3)
	mk(-4, 10)
	s.sweepLocked(t0.Add(5 * time.Second))
	if len(s.procs) != 2 || s.procs[-2] == nil || s.procs[-4] == nil || len(s.exited) != 2 {
		t.Fatalf("after a pass with a process being read: procs %v, queue %d", s.procs, len(s.exited))
	}
	read.reading.Store(0)
	s.sweepLocked(t0.Add(5 * time.Second))
	if len(s.procs) != 1 || s.procs[-4] == nil || len(s.exited) != 1 {
		t.Fatalf("after the next pass: procs %v, queue %d", s.procs, len(s.exited))
	}
	delete(s.procs, -4) // its pid reused (register forgot it): the queue drops it, and the table is left as it is
	s.sweepLocked(t0.Add(time.Minute))
	if len(s.exited) != 0 {
		t.Fatalf("queue %d after its last entry was swept", len(s.exited))
	}
}

// BenchmarkJanitorPass: one janitor pass over a table of 100,000 retained
// exited processes of which none is due: before, each pass locked and read
// every one of them under the supervisor's lock.
func BenchmarkJanitorPass(b *testing.B) {
	s := New(Options{Config: baseConfig(), Audit: &fakeAudit{}})
	defer func() {
		s.mu.Lock()
		clear(s.procs) // not processes Shutdown could stop
		s.mu.Unlock()
		s.Shutdown(context.Background())
	}()
	t0 := time.Now()
	for i := range 100_000 {
		p := &proc{pid: -1 - i, exited: true, end: t0}
		s.procs[p.pid] = p
		s.exited = append(s.exited, p)
	}
	cutoff := t0.Add(-time.Minute)
	for b.Loop() {
		s.mu.Lock()
		s.sweepLocked(cutoff)
		s.mu.Unlock()
	}
}

// TestPidReusedWhileRead: a pid reused while a process_run has yet to read
// its exited process (register forgets the old process for the new one):
// the run still reads the whole output, and the janitor gives it back to
// the pool once it is read, without forgetting the new process. Before,
// register dropped the output at once and the run read nothing.
func TestPidReusedWhileRead(t *testing.T) {
	s, _ := newSup(t, baseConfig())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.mu.Lock() // the janitor's own passes wait
	defer s.mu.Unlock()
	base := s.pool.retained()
	const want = "the whole result\n"
	old := &proc{pid: -7, exited: true, end: t0, out: newRing(1<<20, s.pool), errb: newRing(1<<20, s.pool)}
	old.out.write([]byte(want))
	s.pool.exit(old.out, old.errb)
	old.reading.Store(1) // its process_run has not read it yet
	s.procs[old.pid] = old
	s.exited = append(s.exited, old)

	s.forgetLocked(old.pid, old) // as register does for the next process with pid -7
	next := &proc{pid: old.pid}
	s.procs[next.pid] = next
	defer delete(s.procs, next.pid) // not a process Shutdown could stop
	if got, _ := tailOf(old.out, 1<<20); string(got) != want {
		t.Fatalf("the run reads %q after its pid was reused, want %q", got, want)
	}
	s.sweepLocked(t0.Add(time.Hour))
	if got, _ := tailOf(old.out, 1<<20); string(got) != want || len(s.exited) != 1 {
		t.Fatalf("after a janitor pass while read: %q, queue %d", got, len(s.exited))
	}

	old.reading.Store(0) // the run has its result
	s.sweepLocked(t0.Add(time.Hour))
	if len(s.exited) != 0 || s.procs[next.pid] != next {
		t.Fatalf("after the pass once read: queue %d, pid -7 is %p (the new process %p)", len(s.exited), s.procs[next.pid], next)
	}
	if got := s.pool.retained(); got != base {
		t.Fatalf("the pool holds %d bytes, %d before: the old output was not given back", got, base)
	}
}
