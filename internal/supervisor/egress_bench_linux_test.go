//go:build linux

package supervisor

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// BenchmarkEgressLaunchCost: a supervised launch of /bin/true (Start to
// the exit seen by Wait) without network keys and with
// allowedNetworkDestinations served by the ProxyServer, round robin in the
// same run; the medians and their ratio. Figures in docs/network.md.
func BenchmarkEgressLaunchCost(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	plain := baseConfig()
	allow := baseConfig()
	allow.AllowedNetworkDestinations = []string{"example.com"}
	sups := make([]*Supervisor, 2)
	for i, cfg := range []*config.Config{plain, allow} {
		o := Options{Config: cfg, Audit: &fakeAudit{}}
		ps, err := NewProxyServer(cfg, o.Audit)
		if err != nil {
			b.Fatal(err)
		}
		o.Egress = ps
		sups[i] = New(o)
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sups[i].Shutdown(ctx)
		}()
	}
	spec := specFor(b, "/bin/true")
	ds := make([][]time.Duration, 2)
	for b.Loop() {
		for i, s := range sups {
			t0 := time.Now()
			st, err := s.Start(agentA, spec, StartOptions{Tool: "process_start"})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Wait(context.Background(), agentA, st.Pid, 20*time.Second); err != nil {
				b.Fatal(err)
			}
			ds[i] = append(ds[i], time.Since(t0))
		}
	}
	med := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2])
	}
	b.ReportMetric(med(ds[0])/1e6, "plain-median-ms")
	b.ReportMetric(med(ds[1])/1e6, "allowlist-median-ms")
	b.ReportMetric(med(ds[1])/med(ds[0]), "allowlist/plain")
}
