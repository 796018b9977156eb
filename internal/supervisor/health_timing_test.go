package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// SPEC 7.2: an interval below 1000 ms and a timeout above the interval are
// INVALID_INPUT (an interval of 50 ms used to be raised to 1000 in silence);
// nothing starts.
func TestHealthCheckTimingRefused(t *testing.T) {
	s, fa := newSup(t, baseConfig(), func(o *Options) { o.Authorize = authorizer(t, "true") })
	for _, tc := range []struct {
		name              string
		interval, timeout int64
		wantInMessage     string
	}{
		{"interval below the minimum", 999, 0, "minimum of 1000 ms"},
		{"tiny interval", 50, 10, "minimum of 1000 ms"},
		{"timeout above the interval", 2000, 2001, "above healthCheck.interval"},
		{"timeout above the default interval", 0, 10001, "above healthCheck.interval"},
		{"negative", -1, 0, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "web", Spec: specFor(t, "sleep", "30"),
				HealthCheck: &HealthCheck{Command: []string{"true"}, IntervalMs: tc.interval, TimeoutMs: tc.timeout}})
			e := wantCode(t, err, errcode.InvalidInput)
			if !strings.Contains(e.Error(), tc.wantInMessage) {
				t.Fatalf("error %q does not say %q", e.Error(), tc.wantInMessage)
			}
		})
	}
	if len(fa.events("launch", 0)) != 0 || len(s.Live(agentA)) != 0 {
		t.Fatal("a service started with a refused health check")
	}
	// The boundaries are accepted: interval 1000, timeout equal to it.
	st, err := s.StartService(agentA, ServiceRequest{Tool: "process_start_service", Name: "ok", Spec: specFor(t, "sleep", "30"),
		HealthCheck: &HealthCheck{Command: []string{"true"}, IntervalMs: 1000, TimeoutMs: 1000}})
	if err != nil {
		t.Fatal(err)
	}
	s.StopService(agentA, st.ServiceID)
}

func TestHealthTimeoutDefault(t *testing.T) {
	for _, tc := range []struct {
		hc   HealthCheck
		want int64
	}{
		{HealthCheck{}, 5000},
		{HealthCheck{IntervalMs: 2000}, 2000},
		{HealthCheck{IntervalMs: 2000, TimeoutMs: 1500}, 1500},
	} {
		if got := healthTimeout(&tc.hc).Milliseconds(); got != tc.want {
			t.Errorf("%+v: timeout %d ms, want %d", tc.hc, got, tc.want)
		}
	}
}

// firstCheckSoon makes services started by t run their first health check
// at once (t must not run in parallel).
func firstCheckSoon(t *testing.T) {
	old := firstHealthCheck
	firstHealthCheck = func(*HealthCheck) time.Duration { return 10 * time.Millisecond }
	t.Cleanup(func() { firstHealthCheck = old })
}
