package supervisor

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestPipelineRetentionZero: with exitedRetentionSeconds 0 a pipeline
// member that exits is forgotten at the janitor's next pass, but what it
// wrote is still on its way to the next member (the group's pipe copies
// it as fast as that member reads): the next member gets all of it, not
// what the pipe had copied when the janitor dropped the ring.
func TestPipelineRetentionZero(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 0
	s, _ := newSup(t, cfg)
	g, err := s.CreateGroup(agentA, "pipe", true, "process_create_group")
	if err != nil {
		t.Fatal(err)
	}
	// first writes 1 MB once told to, and exits; second reads its stdin
	// only 3 s later (the janitor has run meanwhile) and exits 0 only when
	// it got all of it (its output would be forgotten with it).
	first := start(t, s, agentA, specFor(t, "sh", "-c", "read go; head -c 1000000 /dev/zero"), capture())
	second := start(t, s, agentA, specFor(t, "sh", "-c", `sleep 3; n=$(wc -c); [ "$n" -eq 1000000 ] || exit 3`), capture())
	for _, pid := range []int{first.Pid, second.Pid} {
		if err := s.AddToGroup(agentA, g, pid, "process_add_to_group"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SendStdin(agentA, first.Pid, []byte("go\n"), true, "test"); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, s, agentA, second.Pid)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		code := -1
		if st.ExitCode != nil {
			code = *st.ExitCode
		}
		t.Fatalf("the second member did not get the first's 1000000 bytes (exit %d, %s)", code, st.TerminationReason)
	}
	// And once the pipe is done, the first is forgotten after all.
	eventually(t, "the first member forgotten once its pipe ended", func() bool {
		_, err := s.Status(agentA, first.Pid)
		return err != nil && errcode.As(err).Code == errcode.ProcessNotFound
	})
}

// quotaModel is the launch rate check as it was before launchTimes (a
// scan of every launch of the hour, kept in the order they were made),
// except that a window's oldest launch is the earliest one, not the first
// made: the same thing unless the clock went back.
type quotaModel struct {
	launches []time.Time
	cooldown time.Time
	cooling  bool
}

func (m *quotaModel) reserve(now time.Time, perMinute, perHour int, cooldownSeconds int64) (bool, int) {
	secs := func(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }
	if m.cooling && now.Before(m.cooldown) {
		return false, secs(m.cooldown.Sub(now))
	}
	m.cooling = false
	m.launches = slices.DeleteFunc(m.launches, func(t time.Time) bool { return !t.After(now.Add(-time.Hour)) })
	for _, w := range []struct {
		max  int
		span time.Duration
	}{{perMinute, time.Minute}, {perHour, time.Hour}} {
		if w.max <= 0 {
			continue
		}
		in := 0
		var oldest time.Time
		for _, t := range m.launches {
			if t.After(now.Add(-w.span)) {
				if in == 0 || t.Before(oldest) {
					oldest = t
				}
				in++
			}
		}
		if in >= w.max {
			wait := oldest.Add(w.span).Sub(now)
			if cd := time.Duration(cooldownSeconds) * time.Second; cd > wait {
				wait = cd
			}
			m.cooldown, m.cooling = now.Add(wait), true
			return false, secs(wait)
		}
	}
	m.launches = append(m.launches, now)
	return true, 0
}

func (m *quotaModel) unreserve(at time.Time) {
	if i := slices.IndexFunc(m.launches, func(t time.Time) bool { return t.Equal(at) }); i >= 0 {
		m.launches = slices.Delete(m.launches, i, i+1)
	}
}

// TestLaunchRateAsScanned: the launch rate check with launchTimes decides
// as the scan of every launch of the hour did, with the same retry
// seconds, over random launches (some at the same instant, some given
// back, with and without a clock that goes back, with either window or
// both, with and without a cooldown).
func TestLaunchRateAsScanned(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	for trial := range 200 {
		cfg := baseConfig()
		cfg.MaxLaunchesPerMinute = rng.IntN(6)
		cfg.MaxLaunchesPerHour = rng.IntN(40)
		cfg.RateLimitCooldownSeconds = []int64{0, 0, 5, 90}[rng.IntN(4)]
		back := trial%2 == 1
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		s := New(Options{Config: cfg, Audit: &fakeAudit{}, Now: func() time.Time { return now }})
		var m quotaModel
		var given []time.Time
		for step := range 400 {
			switch r := rng.IntN(100); {
			case back && r < 5:
				now = now.Add(-time.Duration(rng.IntN(120)) * time.Second)
			case r < 15:
				// the same instant again
			default:
				now = now.Add(time.Duration(rng.IntN(40000)) * time.Millisecond)
			}
			if len(given) > 0 && rng.IntN(5) == 0 {
				i := rng.IntN(len(given))
				s.unreserve(agentA, given[i], false)
				m.unreserve(given[i])
				given = slices.Delete(given, i, i+1)
				continue
			}
			s.mu.Lock()
			at, err := s.reserveLocked(agentA, false)
			kept := slices.Clone(s.launches[agentA])
			s.mu.Unlock()
			ok, retry := m.reserve(now, cfg.MaxLaunchesPerMinute, cfg.MaxLaunchesPerHour, cfg.RateLimitCooldownSeconds)
			got := 0
			if err != nil {
				got = err.RetryAfterSeconds
			}
			if (err == nil) != ok || got != retry {
				t.Fatalf("trial %d (%+v, clock back %v), step %d at %s: allowed %v retry %d, the scan: allowed %v retry %d",
					trial, [3]int{cfg.MaxLaunchesPerMinute, cfg.MaxLaunchesPerHour, int(cfg.RateLimitCooldownSeconds)}, back, step, now, err == nil, got, ok, retry)
			}
			if !slices.IsSortedFunc(kept, func(a, b time.Time) int { return a.Compare(b) }) {
				t.Fatalf("trial %d step %d: launch times out of order: %v", trial, step, kept)
			}
			if err == nil {
				given = append(given, at)
			}
		}
		s.mu.Lock()
		clear(s.procs)
		s.mu.Unlock()
		for _, at := range given {
			s.unreserve(agentA, at, false)
		}
		s.Shutdown(context.Background())
	}
}

// TestHealthChecksNotQueued: a health check is forgotten by its own
// check as soon as it ended (checkHealth), never by the janitor: the
// janitor's queue holds none of them. Queued, each would stay referenced
// (its spec, sandbox process, stats) for exitedRetentionSeconds after it
// was forgotten: 600 per service with checks every second and the
// default 600 s.
func TestHealthChecksNotQueued(t *testing.T) {
	s, fa := newSup(t, baseConfig(), func(o *Options) { o.Authorize = authorizer(t, "true") })
	st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30"),
		HealthCheck: &HealthCheck{Command: []string{"true"}, IntervalMs: 1000, TimeoutMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "two health checks", func() bool {
		n := 0
		for _, r := range fa.events(audit.EventExit, 0) {
			if r.Tool == "service_health_check" {
				n++
			}
		}
		return n >= 2
	})
	s.mu.Lock()
	checks := 0
	for _, p := range s.exited {
		if p.kind == KindHealthCheck {
			checks++
		}
	}
	s.mu.Unlock()
	if checks > 0 {
		t.Fatalf("the janitor's queue holds %d forgotten health checks", checks)
	}
	if _, err := s.StopService(agentA, st.ServiceID); err != nil {
		t.Fatal(err)
	}
}
