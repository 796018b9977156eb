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
		times := s.launches[agent].since(now.Add(-time.Hour))
		s.launches[agent] = times
		for _, w := range []struct {
			max  int
			span time.Duration
			key  string
		}{{c.MaxLaunchesPerMinute, time.Minute, "maxLaunchesPerMinute"}, {c.MaxLaunchesPerHour, time.Hour, "maxLaunchesPerHour"}} {
			if w.max <= 0 {
				continue
			}
			if in := times.since(now.Add(-w.span)); len(in) >= w.max {
				wait := in[0].Add(w.span).Sub(now)
				if cd := time.Duration(c.RateLimitCooldownSeconds) * time.Second; cd > wait {
					wait = cd
				}
				s.cooldown[agent] = now.Add(wait)
				return now, rateLimited(wait, "agent %q reached %d launches in %s (%s)", agent, w.max, w.span, w.key)
			}
		}
		if c.MaxLaunchesPerMinute > 0 || c.MaxLaunchesPerHour > 0 {
			s.launches[agent] = times.add(now) // nothing to count without a window
		}
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
		s.launches[agent] = s.launches[agent].remove(at)
	}
	s.wg.Done()
}

// launchTimes is an agent's launches of the last hour, oldest first: a
// launch's check counts a window and drops what left the hour by binary
// search, not by a scan of every launch of the hour under the
// supervisor's lock (an agent allowed thousands of launches an hour
// would make each launch pay for all of them).
type launchTimes []time.Time

// after is the index of the first time after t.
func (ts launchTimes) after(t time.Time) int {
	i, _ := slices.BinarySearchFunc(ts, t, func(e, t time.Time) int {
		if e.After(t) {
			return 1
		}
		return -1
	})
	return i
}

// since is the times after t (a suffix of ts: the oldest first).
func (ts launchTimes) since(t time.Time) launchTimes { return ts[ts.after(t):] }

// add records t in order (a clock that went back inserts it where it
// belongs).
func (ts launchTimes) add(t time.Time) launchTimes {
	if n := len(ts); n == 0 || !ts[n-1].After(t) {
		return append(ts, t)
	}
	return slices.Insert(ts, ts.after(t), t)
}

// remove drops one launch recorded at t (a reservation given back).
func (ts launchTimes) remove(t time.Time) launchTimes {
	for i := ts.after(t) - 1; i >= 0 && !ts[i].Before(t); i-- {
		if ts[i].Equal(t) {
			return slices.Delete(ts, i, i+1)
		}
	}
	return ts
}
