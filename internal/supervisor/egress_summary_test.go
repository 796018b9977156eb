package supervisor

import (
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// The window's allowance, its summary returned when the next window opens,
// and the pending one taken by flush.
func TestAllowedLimiterWindows(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &allowedLimiter{limit: 2, window: time.Minute, now: func() time.Time { return now }}
	b := int64(3)
	rec := audit.Record{Event: audit.EventNetworkClose, Agent: "a", Decision: "allow", Network: &audit.NetworkRef{BytesOut: &b, BytesIn: &b}}
	var own int
	for range 5 {
		o, due := l.admit(rec)
		if due != nil {
			t.Fatalf("a summary due inside the first window: %+v", due)
		}
		if o {
			own++
		}
	}
	if own != 2 {
		t.Fatalf("%d written on their own, want 2", own)
	}
	now = now.Add(time.Minute)
	o, due := l.admit(rec)
	if !o || due == nil || due.Count != 3 || *due.Network.BytesOut != 9 || due.Event != audit.EventNetworkSummarized || due.Agent != "a" {
		t.Fatalf("next window: own %v, due %+v", o, due)
	}
	if s := l.flush(); s != nil {
		t.Fatalf("nothing pending, flush gave %+v", s)
	}
	l.admit(rec)
	l.admit(rec)
	if s := l.flush(); s == nil || s.Count != 1 {
		t.Fatalf("flush %+v, want the one summarised record", s)
	}
}
