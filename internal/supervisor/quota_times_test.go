package supervisor

import (
	"fmt"
	"testing"
	"time"
)

func TestLaunchTimes(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var ts launchTimes
	for _, s := range []int{1, 2, 2, 5, 9} {
		ts = ts.add(at(s))
	}
	ts = ts.add(at(4)) // a clock that went back: kept in order
	want := func(label string, got launchTimes, secs ...int) {
		t.Helper()
		if len(got) != len(secs) {
			t.Fatalf("%s: %v, want seconds %v", label, got, secs)
		}
		for i, s := range secs {
			if !got[i].Equal(at(s)) {
				t.Fatalf("%s: %v, want seconds %v", label, got, secs)
			}
		}
	}
	want("added", ts, 1, 2, 2, 4, 5, 9)
	want("since 2 (strictly after)", ts.since(at(2)), 4, 5, 9)
	want("since 0", ts.since(at(0)), 1, 2, 2, 4, 5, 9)
	want("since 9", ts.since(at(9)))
	ts = ts.remove(at(2))
	want("one of two equal removed", ts, 1, 2, 4, 5, 9)
	ts = ts.remove(at(3))
	want("absent: nothing removed", ts, 1, 2, 4, 5, 9)
	ts = ts.remove(at(9)).remove(at(1))
	want("last and first removed", ts, 2, 4, 5)
}

// TestNoLaunchTimesWithoutARateLimit: with no launch rate limit nothing is
// counted, so nothing is kept (before, every launch of the last hour was).
func TestNoLaunchTimesWithoutARateLimit(t *testing.T) {
	for _, limited := range []bool{false, true} {
		cfg := baseConfig()
		if limited {
			cfg.MaxLaunchesPerHour = 100
		}
		s, _ := newSup(t, cfg)
		for range 3 {
			st := start(t, s, agentA, specFor(t, "true"), StartOptions{})
			waitExit(t, s, agentA, st.Pid)
		}
		s.mu.Lock()
		n := len(s.launches[agentA])
		s.mu.Unlock()
		if want := map[bool]int{false: 0, true: 3}[limited]; n != want {
			t.Errorf("limited %v: %d launch times kept, want %d", limited, n, want)
		}
	}
}

// BenchmarkReserveFullHour: one launch's quota check (and its reservation
// given back) for an agent with n launches in the last hour and a
// per-hour limit above n. Before launchTimes, each check scanned all n
// (twice) under the supervisor's lock.
func BenchmarkReserveFullHour(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cfg := baseConfig()
			cfg.MaxLaunchesPerHour = n + 1
			cfg.MaxLaunchesPerMinute = n + 1
			now := time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)
			s := New(Options{Config: cfg, Audit: &fakeAudit{}, Now: func() time.Time { return now }})
			for i := range n {
				s.launches[agentA] = s.launches[agentA].add(now.Add(-time.Hour + time.Duration(i+1)*time.Hour/time.Duration(n+1)))
			}
			for b.Loop() {
				s.mu.Lock()
				at, err := s.reserveLocked(agentA, false)
				s.mu.Unlock()
				if err != nil {
					b.Fatal(err)
				}
				s.unreserve(agentA, at, false)
			}
		})
	}
}
