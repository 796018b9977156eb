package supervisor

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// reserveLocked checks every launch quota and, when all pass, reserves one
// launch. A refusal consumes nothing.
func (s *Supervisor) reserveLocked(agent string, byServer bool) (time.Time, *errcode.Error) {
	now := s.now()
	c := s.cfg
	if !byServer {
		if until, ok := s.cooldown[agent]; ok && now.Before(until) {
			return now, rateLimited(until.Sub(now), "agent %q is cooling down after exceeding a launch rate limit", agent)
		}
		delete(s.cooldown, agent)
	}
	if c.MaxConcurrentProcesses > 0 && s.running >= c.MaxConcurrentProcesses {
		return now, errcode.Deny(errcode.ConcurrencyLimit, layer.ProcessLimits, "wait for a process to exit or terminate one",
			"%d processes are running, the maximum (maxConcurrentProcesses)", s.running)
	}
	if c.MaxConcurrentProcessesPerAgent > 0 && s.perAgent[agent] >= c.MaxConcurrentProcessesPerAgent {
		return now, errcode.Deny(errcode.ConcurrencyLimit, layer.ProcessLimits, "wait for one of your processes to exit or terminate one",
			"agent %q has %d processes running, the maximum (maxConcurrentProcessesPerAgent)", agent, s.perAgent[agent])
	}
	if c.MaxTotalProcesses > 0 && s.total >= c.MaxTotalProcesses {
		return now, errcode.Deny(errcode.TotalLimit, layer.ProcessLimits, "restart the server to reset maxTotalProcesses",
			"this server has launched %d processes, the maximum over its life (maxTotalProcesses)", s.total)
	}
	if !byServer {
		times := slices.DeleteFunc(s.launches[agent], func(t time.Time) bool { return !t.After(now.Add(-time.Hour)) })
		s.launches[agent] = times
		for _, w := range []struct {
			max  int
			span time.Duration
			key  string
		}{{c.MaxLaunchesPerMinute, time.Minute, "maxLaunchesPerMinute"}, {c.MaxLaunchesPerHour, time.Hour, "maxLaunchesPerHour"}} {
			if w.max <= 0 {
				continue
			}
			in := 0
			var oldest time.Time
			for _, t := range times {
				if t.After(now.Add(-w.span)) {
					if in == 0 {
						oldest = t
					}
					in++
				}
			}
			if in >= w.max {
				wait := oldest.Add(w.span).Sub(now)
				if cd := time.Duration(c.RateLimitCooldownSeconds) * time.Second; cd > wait {
					wait = cd
				}
				s.cooldown[agent] = now.Add(wait)
				return now, rateLimited(wait, "agent %q reached %d launches in %s (%s)", agent, w.max, w.span, w.key)
			}
		}
		s.launches[agent] = append(times, now)
	}
	s.running++
	s.perAgent[agent]++
	s.total++
	s.wg.Add(1) // the launch in progress: Shutdown waits for it
	return now, nil
}

func rateLimited(wait time.Duration, format string, a ...any) *errcode.Error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	e := errcode.Deny(errcode.RateLimited, layer.RateLimits, fmt.Sprintf("retry in %d s", secs),
		format+fmt.Sprintf("; retry in %d s", secs), a...)
	e.RetryAfterSeconds = secs
	return e
}

// unreserve gives back a reservation whose launch failed.
func (s *Supervisor) unreserve(agent string, at time.Time, byServer bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	s.perAgent[agent]--
	s.total--
	if !byServer {
		ts := s.launches[agent]
		if i := slices.IndexFunc(ts, func(t time.Time) bool { return t.Equal(at) }); i >= 0 {
			s.launches[agent] = slices.Delete(ts, i, i+1)
		}
	}
	s.wg.Done()
}
