package config

import (
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A remedy fits how the configuration was given (SPEC 7.3): never "remove X
// from the configuration" to a user who gave no file.
func TestRemedyFitsTheSource(t *testing.T) {
	withHost(t, fakeHost{})
	withLayerUnbuilt(t, "network")
	start := t.TempDir()
	load := func(profile, doc string) *Error {
		t.Helper()
		env := testEnv("HOME", "/h")
		if doc != "" {
			env = testEnv("HOME", "/h", EnvConfigJSON, doc)
		}
		_, err := Load(LoadOptions{Profile: profile, Cwd: start, Getenv: env, ReadFile: noFiles})
		return wantConfigError(t, err, errcode.LayerUnavailable, "blockNetworkAccess")
	}
	// The profile alone: no file to remove it from; the JSON to lay over.
	r := load("maximum", "").Remedy
	if strings.Contains(r, "remove") || !strings.Contains(r, `{"blockNetworkAccess": false}`) || !strings.Contains(r, "--config") {
		t.Errorf("profile alone: remedy %q", r)
	}
	// Profile + a file that does not set it: the same.
	r = load("maximum", `{"maxLaunchesPerMinute": 3}`).Remedy
	if strings.Contains(r, "remove") || !strings.Contains(r, `{"blockNetworkAccess": false}`) {
		t.Errorf("profile + file without the key: remedy %q", r)
	}
	// Profile + a file that sets it: set it false there (removing it
	// leaves the profile's true).
	r = load("maximum", `{"blockNetworkAccess": true}`).Remedy
	if strings.Contains(r, "remove \"") || !strings.Contains(r, "in your file") {
		t.Errorf("profile + file with the key: remedy %q", r)
	}
	// A file alone: removing it from that file is right.
	r = load("", `{"blockNetworkAccess": true}`).Remedy
	if !strings.Contains(r, "remove \"blockNetworkAccess\" from the configuration") {
		t.Errorf("file alone: remedy %q", r)
	}
}
