package config

import (
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode feeds arbitrary documents to Decode, the configuration's one
// entry point for bytes from a file: it must never panic, must refuse with
// an *Error naming what is wrong, must leave the base unchanged when it
// refuses, and what it accepts must validate (or be refused by Validate)
// without panicking.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`, `[]`, `null`, ``, `{"allowedExecutables":["/bin/echo"]}`,
		`{"allowedExecutables":["/bin/echo"],"allowedWorkingDirectories":["/tmp"],"maxConcurrentProcesses":4}`,
		`{"defaultResourceLimits":{"maxMemoryMB":128,"maxCpuPercent":50},"maximumResourceLimits":{"maxMemoryMB":512}}`,
		`{"namespaces":{"pid":true,"network":false}}`, `{"allowedTimeWindows":["Mon-Fri 09:00-17:00 UTC"]}`,
		`{"$schema":"x","$comment":"c","description":"d"}`, `{"enableAuditLog":true,"auditLogPath":"/var/log/a.log"}`,
		`{"auditSigningKeyFile":"/etc/mcp-process/audit.key"}`, `{"agents":[{"id":"ci","tokenSha256":"00"}]}`,
		`{"maxConcurrentProcesses":1e400}`, `{"maxConcurrentProcesses":-1}`, `{"a":1,"a":2}`, `{"allowedExecutables":null}`,
		`{"ALLOWEDEXECUTABLES":[]}`, `{"allowedExecutables":["/bin/echo"]} {}`, "{\"allowedEnvVars\":[\"\xff\"]}",
		`{"defaultResourceLimits":{"maxMemoryMB":"1"}}`, `{"blockedArgumentPatterns":["(?i)pass(word)?=.*"]}`,
		`{"securityAlertWebhook":"https://example.com/h","securityAlertWebhookSecret":"s"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		base := Defaults()
		before := base.Clone()
		explicit, err := Decode(data, base)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Decode(%q) error %T %v: want a *config.Error", data, err, err)
			}
			if ce.Error() == "" {
				t.Fatalf("Decode(%q): an empty error message", data)
			}
			if !reflect.DeepEqual(base, before) {
				t.Fatalf("Decode(%q) failed (%v) but changed the base", data, err)
			}
			return
		}
		if explicit == nil {
			t.Fatalf("Decode(%q) succeeded without the set of keys", data)
		}
		_ = base.Validate()
	})
}
