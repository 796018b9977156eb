package main

import (
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
)

// differences names each deliberate difference the configuration touches,
// one line each, and no line for what it does not touch.
func TestDifferencesFollowTheConfig(t *testing.T) {
	c := config.Defaults()
	c.AllowedExecutables = []string{"node"}
	c.AllowedWorkingDirectories = []string{t.TempDir()}
	c.EnableAuditLog = false
	plain := differences(&config.Loaded{Config: c, Explicit: config.Explicit{"allowedExecutables": true}})
	for _, l := range plain {
		if strings.Contains(l, "\n") {
			t.Errorf("line with a newline: %q", l)
		}
		for _, k := range []string{"maxCpuPercent", "maxCpuTime", "maxProcesses", "enableSeccomp", "enableAuditLog", "requireConfirmation"} {
			if strings.Contains(l, k+":") {
				t.Errorf("a config that does not touch %s has the line %q", k, l)
			}
		}
	}

	d := c.Clone()
	d.DefaultResourceLimits.MaxCpuPercent = 50
	d.DefaultResourceLimits.MaxProcesses = 10
	d.EnableSeccomp, d.SeccompProfile = true, "strict"
	d.RequireConfirmation = true
	d.EnableAuditLog, d.AuditLogPath = true, "/var/log/mcp/audit.log"
	got := differences(&config.Loaded{Config: d, Explicit: config.Explicit{
		"allowedExecutables": true, "defaultResourceLimits.maxCpuPercent": true, "defaultResourceLimits.maxProcesses": true,
	}})
	want := map[string]string{
		"defaultResourceLimits.maxCpuPercent:": "throttled",
		"defaultResourceLimits.maxProcesses:":  "threads included",
		"enableSeccomp:":                       "did nothing",
		"requireConfirmation:":                 "did nothing",
		"enableAuditLog:":                      "/var/log/mcp/audit.log",
	}
	for prefix, word := range want {
		n := 0
		for _, l := range got {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, word) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d lines start with %s and say %q: %q", n, prefix, word, got)
		}
	}
	for _, l := range got {
		if strings.HasPrefix(l, "defaultResourceLimits.maxCpuTime:") {
			t.Errorf("maxCpuTime is not set by the document, yet: %q", l)
		}
	}
}
