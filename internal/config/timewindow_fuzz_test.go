package config

import (
	"testing"
	"time"
)

// FuzzParseTimeWindow feeds arbitrary allowedTimeWindows/blockedTimeWindows
// entries to the parser: it must never panic; an entry it accepts has a
// day, minutes within the day (24:00 only as an end), distinct start and
// end unless all day, and contains() answers for any instant, true for the
// window's own start minute on a day it names.
func FuzzParseTimeWindow(f *testing.F) {
	for _, seed := range []string{
		"Mon-Fri 09:00-17:00", "Mon-Fri 09:00-17:00 Europe/Paris", "Sat,Sun *", "* 22:00-06:00", "Fri-Mon 00:00-24:00 UTC",
		"* *", "mon 9:00-9:01", "Mon 24:00-01:00", "Mon 09:00-09:00", "Mon 09:60-10:00", "Xyz *", "Mon-Fri", "Mon * UTC extra",
		"* 00:00-24:00 ../../etc/passwd", "* * Local", "Mon,,Tue *", "Mon- *", "-Mon *", "* 1:5-2:00", "* +1:00-02:00",
	} {
		f.Add(seed)
	}
	instants := []time.Time{
		time.Date(2025, 3, 3, 9, 30, 0, 0, time.UTC), time.Date(2025, 3, 8, 23, 59, 59, 0, time.UTC),
		time.Date(2025, 3, 30, 2, 30, 0, 0, time.UTC), time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
	}
	f.Fuzz(func(t *testing.T, s string) {
		w, err := ParseTimeWindow(s, time.UTC)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: empty error", s)
			}
			return
		}
		anyDay := false
		for _, d := range w.days {
			anyDay = anyDay || d
		}
		if !anyDay {
			t.Fatalf("%q accepted with no day", s)
		}
		if w.loc == nil {
			t.Fatalf("%q accepted without a zone", s)
		}
		for _, at := range instants {
			_ = w.Contains(at)
		}
		if w.allDay {
			return
		}
		if w.start < 0 || w.start >= 24*60 || w.end <= 0 || w.end > 24*60 || w.start == w.end {
			t.Fatalf("%q: start %d end %d minutes out of the day", s, w.start, w.end)
		}
		// The start minute of a named day, in the window's zone, is inside.
		for d := 0; d < 7; d++ {
			if !w.days[d] {
				continue
			}
			day := time.Date(2025, 3, 2+d, 0, 0, 0, 0, w.loc) // 2025-03-02 is a Sunday
			at := day.Add(time.Duration(w.start) * time.Minute)
			if at.Weekday() == time.Weekday(d) && at.Hour()*60+at.Minute() == w.start && !w.Contains(at) {
				t.Fatalf("%q: its own start %v is not inside it", s, at)
			}
			break
		}
	})
}
