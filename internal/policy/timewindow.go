package policy

import (
	"strconv"
	"strings"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// compileTimeWindows parses the time windows. Their syntax and the zone
// are checked with the config (config.checkTimeWindowValues); an error
// here is a config that was never validated.
func (p *Policy) compileTimeWindows() *errcode.Error {
	loc, err := p.cfg.TimeLocation()
	if err != nil {
		return errcode.Fail(errcode.InvalidInput, LayerConfig,
			"use an IANA zone name such as Europe/Paris or UTC (the host needs its zoneinfo database)",
			"timeZone %q: %v", p.cfg.TimeZone, err)
	}
	p.loc = loc
	for _, l := range []struct {
		key  string
		list []string
		dst  *[]config.TimeWindow
	}{{"allowedTimeWindows", p.cfg.AllowedTimeWindows, &p.allowedWindows}, {"blockedTimeWindows", p.cfg.BlockedTimeWindows, &p.blockedWindows}} {
		for i, s := range l.list {
			w, err := config.ParseTimeWindow(s, p.loc)
			if err != nil {
				return errcode.Fail(errcode.InvalidInput, LayerConfig,
					`write "DAYS TIMES [ZONE]", e.g. "Mon-Fri 09:00-17:00 Europe/Paris", "Sat,Sun *" or "* 22:00-06:00"`,
					"%s[%d] (%q): %v", l.key, i, s, err)
			}
			*l.dst = append(*l.dst, w)
		}
	}
	return nil
}

// CheckTimeWindows refuses a launch at now outside every allowedTimeWindows
// entry (when there are any) or inside a blockedTimeWindows entry. Blocked
// wins. The server's clock decides; the child's TZ has no say.
func (p *Policy) CheckTimeWindows(now time.Time) *errcode.Error {
	for i, w := range p.blockedWindows {
		if w.Contains(now) {
			return errcode.Deny(errcode.OutsideTimeWindow, LayerTimeWindow,
				"try again after the blocked window "+strconv.Quote(w.Raw())+" ends, or change blockedTimeWindows",
				"launches are blocked now (%s) by blockedTimeWindows[%d] %q", now.In(w.Location()).Format("Mon 15:04 MST"), i, w.Raw())
		}
	}
	if len(p.allowedWindows) == 0 {
		return nil
	}
	for _, w := range p.allowedWindows {
		if w.Contains(now) {
			return nil
		}
	}
	return errcode.Deny(errcode.OutsideTimeWindow, LayerTimeWindow,
		"try again inside allowedTimeWindows ("+strings.Join(p.cfg.AllowedTimeWindows, "; ")+"), or change allowedTimeWindows",
		"launches are allowed only inside allowedTimeWindows; now is %s", now.In(p.loc).Format("Mon 15:04 MST"))
}
