package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeWindowErrors(t *testing.T) {
	for _, s := range []string{"", "*", "* * UTC extra", "Mon", "Mon 9-17", "Mon 09:00", "Mon 25:00-26:00", "Mon 09:60-10:00",
		"Mon 24:00-01:00", "Mon 09:00-09:00", "Xyz *", "Mon-Xyz *", "Mon,,Tue *", "Mon +9:00-10:00", "Mon 09:00-10:00 Not/AZone"} {
		if _, err := ParseTimeWindow(s, time.UTC); err == nil {
			t.Errorf("%q parsed", s)
		}
	}
	for _, s := range []string{"* *", "* 00:00-23:59", "Sat-Sun *", "Mon-Fri 09:00-17:00 UTC", "Mon,Wed,Fri-Sun 9:30-10:00", "* 22:00-06:00"} {
		if _, err := ParseTimeWindow(s, time.UTC); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
}

// A bad time window is refused by the config's own checks, naming the key
// and the entry, before any policy is built.
func TestTimeWindowSyntaxIsAConfigCheck(t *testing.T) {
	for _, tc := range []struct{ key, entry string }{
		{"allowedTimeWindows", "Mon 25:00-26:00"},
		{"blockedTimeWindows", "Xyz *"},
	} {
		c := Defaults()
		if tc.key == "allowedTimeWindows" {
			c.AllowedTimeWindows = []string{"* *", tc.entry}
		} else {
			c.BlockedTimeWindows = []string{tc.entry}
		}
		err := checkTimeWindowValues(c)
		if err == nil || !strings.HasPrefix(err.Key, tc.key+"[") || !strings.Contains(err.Error(), tc.entry) {
			t.Errorf("%s %q: %v", tc.key, tc.entry, err)
		}
	}
	c := Defaults()
	c.AllowedTimeWindows = []string{"Mon-Fri 09:00-17:00 Europe/Paris", "* 22:00-06:00"}
	if err := checkTimeWindowValues(c); err != nil {
		t.Errorf("good windows refused: %v", err)
	}
}
