package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// testEnv is a fake environment.
func testEnv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// validConfig is a valid configuration to modify in validation tests.
func validConfig() *Config {
	c := defaults(testEnv("HOME", "/home/test"))
	c.AllowedExecutables = []string{"node", "/usr/bin/git", "python3*"}
	c.AllowedWorkingDirectories = []string{"/srv/work"}
	c.resolve(nil)
	c.Landlock = false // as a document with "landlock": false: the tests add layers one by one
	return c
}

// wantConfigError asserts err is a *Error with the code and key, and that
// its text names the key and carries a remedy.
func wantConfigError(t *testing.T, err error, code errcode.Code, key string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s on key %q", code, key)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	if ce.Code != code || ce.Key != key {
		t.Fatalf("got code %s key %q (%v), want code %s key %q", ce.Code, ce.Key, err, code, key)
	}
	if ce.Remedy == "" {
		t.Errorf("error %v has no remedy", err)
	}
	if key != "" && !strings.Contains(err.Error(), key) {
		t.Errorf("error text %q does not name the key %q", err.Error(), key)
	}
	return ce
}

func writeFile(path, content string) error {
	return os.WriteFile(path, []byte(content), 0o600)
}
