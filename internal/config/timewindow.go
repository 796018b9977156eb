package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The syntax of allowedTimeWindows and blockedTimeWindows (SPEC 3.14),
// checked here with every other value (checkTimeWindowValues); the policy
// package decides with the parsed windows.

// TimeWindow is a compiled "DAYS TIMES [ZONE]" entry (SPEC 3.14).
type TimeWindow struct {
	raw        string
	days       [7]bool // indexed by time.Weekday
	allDay     bool
	start, end int // minutes after midnight, [start, end); start > end wraps past midnight
	loc        *time.Location
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "sunday": time.Sunday,
	"mon": time.Monday, "monday": time.Monday,
	"tue": time.Tuesday, "tuesday": time.Tuesday,
	"wed": time.Wednesday, "wednesday": time.Wednesday,
	"thu": time.Thursday, "thursday": time.Thursday,
	"fri": time.Friday, "friday": time.Friday,
	"sat": time.Saturday, "saturday": time.Saturday,
}

// ParseTimeWindow parses "DAYS TIMES [ZONE]": DAYS is "*", a day ("Mon"), a
// range ("Mon-Fri", "Fri-Mon" wraps) or a comma list of those; TIMES is "*"
// or "HH:MM-HH:MM" (end may be 24:00; start after end wraps past midnight);
// ZONE is an IANA name (default loc).
func ParseTimeWindow(s string, loc *time.Location) (TimeWindow, error) {
	w := TimeWindow{raw: s, loc: loc}
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return w, fmt.Errorf("want 2 or 3 fields (DAYS TIMES [ZONE]), got %d", len(f))
	}
	if err := parseDays(f[0], &w.days); err != nil {
		return w, err
	}
	if f[1] == "*" {
		w.allDay = true
	} else {
		a, b, ok := strings.Cut(f[1], "-")
		if !ok {
			return w, fmt.Errorf("times %q: want * or HH:MM-HH:MM", f[1])
		}
		var err error
		if w.start, err = parseClock(a, false); err != nil {
			return w, err
		}
		if w.end, err = parseClock(b, true); err != nil {
			return w, err
		}
		if w.start == w.end {
			return w, fmt.Errorf("times %q: start equals end (use * for the whole day)", f[1])
		}
	}
	if len(f) == 3 {
		l, err := time.LoadLocation(f[2])
		if err != nil {
			return w, fmt.Errorf("zone %q: %v", f[2], err)
		}
		w.loc = l
	}
	return w, nil
}

func parseDays(s string, days *[7]bool) error {
	if s == "*" {
		for i := range days {
			days[i] = true
		}
		return nil
	}
	for _, item := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(item, "-")
		from, ok := dayNames[strings.ToLower(a)]
		if !ok {
			return fmt.Errorf("day %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun", a)
		}
		to := from
		if isRange {
			if to, ok = dayNames[strings.ToLower(b)]; !ok {
				return fmt.Errorf("day %q: want Mon, Tue, Wed, Thu, Fri, Sat or Sun", b)
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" only as an end.
func parseClock(s string, isEnd bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || strings.Trim(h+m, "0123456789") != "" {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && (mm != 0 || !isEnd)) {
		return 0, fmt.Errorf("time %q: want HH:MM between 00:00 and 23:59 (24:00 as an end)", s)
	}
	return hh*60 + mm, nil
}

// Contains reports whether instant t lies in the window. A window that wraps
// past midnight belongs to the day it starts on; days are read in the
// window's zone.
func (w TimeWindow) Contains(t time.Time) bool {
	lt := t.In(w.loc)
	wd := lt.Weekday()
	if w.allDay {
		return w.days[wd]
	}
	sec := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()
	start, end := w.start*60, w.end*60
	if start < end {
		return w.days[wd] && sec >= start && sec < end
	}
	return (w.days[wd] && sec >= start) || (w.days[(wd+6)%7] && sec < end)
}

// Raw is the entry as written.
func (w TimeWindow) Raw() string { return w.raw }

// Location is the zone the window's days and times are read in.
func (w TimeWindow) Location() *time.Location { return w.loc }

// TimeLocation is the zone of time-window entries without one: timeZone,
// or the server's local zone.
func (c *Config) TimeLocation() (*time.Location, error) {
	if c.TimeZone == "" {
		return time.Local, nil
	}
	return time.LoadLocation(c.TimeZone)
}
