package supervisor

import (
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// checkHealthTiming refuses a health check's interval and timeout that SPEC
// 7.2 rules out: an interval below minHealthInterval (it is refused, never
// silently raised) and a timeout above the interval (a check would still
// run when the next one is due). Zero means the default: an omitted
// timeout is the default timeout, or the interval when that is shorter.
func checkHealthTiming(hc *HealthCheck) error {
	if hc.IntervalMs < 0 || hc.TimeoutMs < 0 {
		return errcode.Fail(errcode.InvalidInput, layer.Service, "give milliseconds (0 or omitted for the default)",
			"healthCheck.interval and healthCheck.timeout cannot be negative")
	}
	if hc.IntervalMs != 0 && time.Duration(hc.IntervalMs)*time.Millisecond < minHealthInterval {
		return errcode.Fail(errcode.InvalidInput, layer.Service,
			"set healthCheck.interval to at least 1000 (milliseconds), or omit it for the default of 10000",
			"healthCheck.interval is %d ms, below the minimum of %d ms", hc.IntervalMs, minHealthInterval.Milliseconds())
	}
	if hc.TimeoutMs > 0 && time.Duration(hc.TimeoutMs)*time.Millisecond > healthInterval(hc) {
		return errcode.Fail(errcode.InvalidInput, layer.Service,
			"set healthCheck.timeout to at most healthCheck.interval",
			"healthCheck.timeout (%d ms) is above healthCheck.interval (%d ms)", hc.TimeoutMs, healthInterval(hc).Milliseconds())
	}
	return nil
}

// healthInterval is the time between two checks.
func healthInterval(hc *HealthCheck) time.Duration {
	return msOr(hc.IntervalMs, defaultHealthInterval)
}

// healthTimeout is how long a check may run before its tree is killed.
func healthTimeout(hc *HealthCheck) time.Duration {
	if hc.TimeoutMs > 0 {
		return time.Duration(hc.TimeoutMs) * time.Millisecond
	}
	return min(defaultHealthTimeout, healthInterval(hc))
}

// firstHealthCheck is the wait from the service's start to its first
// check: one interval (tests shorten it).
var firstHealthCheck = healthInterval
