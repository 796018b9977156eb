package supervisor

import (
	"fmt"
	"sync"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Allowed connections are bounded in records too (SPEC 7.2: "the same
// rule bounds the network layer's per-connection records"). Refusals are
// denials, summarised per agent by the audit log itself; the allowed
// connections' records (network, network_close) are summarised here, per
// launched tree: in each window of AllowedRecordWindow the first
// AllowedRecordsPerWindow are written one by one, the further ones are
// counted in one network_summarized record (how many, the bytes of the
// closes each way),
// written when the window is over (at the tree's next record, or when the
// tree's proxy is closed). A crash loses at most the current window's
// count, as for denials.
const (
	AllowedRecordsPerWindow = 600
	AllowedRecordWindow     = time.Minute
)

// allowedLimiter is one tree's window of allowed-connection records.
type allowedLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu       sync.Mutex
	start    time.Time
	recorded int
	sum      *audit.Record // pending summary, nil if none
}

// admit reports whether r is to be written on its own; if not, it is
// counted in the window's summary. A summary due now (its window is over)
// is returned for the caller to write first.
func (l *allowedLimiter) admit(r audit.Record) (own bool, due *audit.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.start.IsZero() || now.Sub(l.start) >= l.window {
		due, l.sum = l.sum, nil
		l.start, l.recorded = now, 0
	}
	if l.recorded < l.limit {
		l.recorded++
		return true, due
	}
	if l.sum == nil {
		var out, in int64
		l.sum = &audit.Record{Level: audit.LevelInfo, Event: audit.EventNetworkSummarized, Agent: r.Agent, Tool: r.Tool,
			PID: r.PID, Executable: r.Executable, ServiceID: r.ServiceID, Decision: "allow", Layer: layer.Network.String(),
			Network: &audit.NetworkRef{Via: "summary", BytesOut: &out, BytesIn: &in}}
	}
	s := l.sum
	s.Count++
	if r.Network != nil && r.Network.BytesOut != nil {
		*s.Network.BytesOut += *r.Network.BytesOut
		*s.Network.BytesIn += *r.Network.BytesIn
	}
	s.Reason = fmt.Sprintf("%d records of allowed connections (decisions, closes with their bytes, DNS answers) past the %d written one by one in %s (window opened %s) are summarised here",
		s.Count, l.limit, l.window, l.start.UTC().Format(time.RFC3339Nano))
	return false, due
}

// flush takes the pending summary (the tree's proxy is closed).
func (l *allowedLimiter) flush() *audit.Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sum
	l.sum = nil
	return s
}
