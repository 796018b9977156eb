package audit

import (
	"fmt"
	"sync"
	"time"
)

// Denial floods are summarised (SPEC 7.2). Per agent, a window opens at
// its first denial (a record with decision "deny") and lasts
// Options.DenialWindow. The first Options.DenialsPerWindow denials of a
// window are recorded one each; the further ones are not, and one
// denials_summarized record stands for them: their count, how many of each
// code, the first and the last. It is written when the window closes, or
// earlier, just before any other record (so the log stays in time order;
// later denials of the same window then start a new summary). A summary
// of violations is a violation itself (violation log, one alert). A crash
// loses at most the count of the current window's summarised denials:
// launch, exit and terminate records are never summarised.
type denialLimiter struct {
	limit  int
	window time.Duration
	now    func() time.Time
	write  func(Record) error // writes a summary record

	mu      sync.Mutex
	closed  bool
	windows map[string]*denialWindow // by agent
}

type denialWindow struct {
	agent    string
	start    time.Time
	recorded int     // denials recorded one by one in this window
	sum      *Record // the pending summary, nil if none
	timer    *time.Timer
}

func newDenialLimiter(limit int, window time.Duration, now func() time.Time, write func(Record) error) *denialLimiter {
	return &denialLimiter{limit: limit, window: window, now: now, write: write, windows: map[string]*denialWindow{}}
}

// admit reports whether denial r is to be recorded on its own; if not, it
// has been added to its window's summary. Summaries due now (of a window
// that r's agent closed by starting a new one) are returned for the caller
// to write first.
func (d *denialLimiter) admit(r *Record) (own bool, due []Record) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return true, nil
	}
	now := d.now()
	w := d.windows[r.Agent]
	if w != nil && now.Sub(w.start) >= d.window {
		if w.timer != nil {
			w.timer.Stop()
		}
		if w.sum != nil {
			due = append(due, *w.sum)
		}
		w = nil
	}
	if w == nil {
		w = &denialWindow{agent: r.Agent, start: now}
		d.windows[r.Agent] = w
	}
	if w.recorded < d.limit {
		w.recorded++
		return true, due
	}
	ref := &DenialRef{Time: now.UTC().Format(time.RFC3339Nano), Event: r.Event, Tool: r.Tool, Code: r.Code,
		Layer: r.Layer, Executable: r.Executable, PID: r.PID}
	if w.sum == nil {
		w.sum = &Record{Level: LevelInfo, Event: EventDenialsSummarized, Agent: r.Agent, Decision: "deny",
			Codes: map[string]int{}, First: ref}
	}
	s := w.sum
	s.Count++
	code := r.Code
	if code == "" {
		code = "(none)"
	}
	s.Codes[code]++
	s.Last = ref
	if rankOf(r.Level) > rankOf(s.Level) {
		s.Level = r.Level
	}
	s.Reason = fmt.Sprintf("%d denials past the %d recorded one by one in %s (window opened %s) are summarised here",
		s.Count, d.limit, d.window, w.start.UTC().Format(time.RFC3339Nano))
	if w.timer == nil {
		w.timer = time.AfterFunc(d.window-now.Sub(w.start), func() { d.expire(w) })
	}
	return false, due
}

// expire closes w at its end: its pending summary is written.
func (d *denialLimiter) expire(w *denialWindow) {
	d.mu.Lock()
	if d.closed || d.windows[w.agent] != w {
		d.mu.Unlock()
		return
	}
	delete(d.windows, w.agent)
	sum := w.sum
	w.sum = nil
	d.mu.Unlock()
	if sum != nil {
		_ = d.write(*sum) // a failed write is the log's to report on the next Record
	}
}

// pending takes every pending summary (to be written before another
// record); the windows stay open.
func (d *denialLimiter) pending() []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Record
	for _, w := range d.windows {
		if w.sum != nil {
			out = append(out, *w.sum)
			w.sum = nil
		}
	}
	return out
}

// close stops the timers and returns every pending summary.
func (d *denialLimiter) close() []Record {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	var out []Record
	for _, w := range d.windows {
		if w.timer != nil {
			w.timer.Stop()
		}
		if w.sum != nil {
			out = append(out, *w.sum)
		}
	}
	d.windows = nil
	return out
}
