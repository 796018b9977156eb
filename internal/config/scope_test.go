package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// loadJSON loads doc as MCP_PROCESS_CONFIG on the current (fake) host.
func loadJSON(doc string) (*Loaded, error) {
	return Load(LoadOptions{Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON, doc)})
}

// The scope a config gets, on a host with and without Landlock (SPEC 7.1).
func TestExecutablePolicyScopeDefault(t *testing.T) {
	noLandlock := fakeHost{ll: errors.New("Landlock is unavailable: built in but disabled at boot")}
	for _, tc := range []struct {
		name     string
		host     fakeHost
		doc      string
		scope    string
		fallback string // substring of ScopeFallback(), "" = none
	}{
		{"unset with Landlock", fakeHost{}, `{"allowedExecutables":["node"]}`, ScopeTree, ""},
		{"empty string with Landlock", fakeHost{}, `{"executablePolicyScope":""}`, ScopeTree, ""},
		{"unset without Landlock", noLandlock, `{"allowedExecutables":["node"]}`, ScopeLaunch, "disabled at boot"},
		{"unset without Landlock, with helpers", noLandlock, `{"helperExecutables":["/usr/bin/make"]}`, ScopeLaunch, "helperExecutables has no effect"},
		{"explicit launch without Landlock", noLandlock, `{"executablePolicyScope":"launch"}`, ScopeLaunch, ""},
		{"explicit launch with Landlock", fakeHost{}, `{"executablePolicyScope":"launch"}`, ScopeLaunch, ""},
		{"explicit tree", fakeHost{}, `{"executablePolicyScope":"tree","helperExecutables":["/usr/lib/git-core/*"]}`, ScopeTree, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withHost(t, tc.host)
			l, err := loadJSON(tc.doc)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			c := l.Config
			if c.ExecutablePolicyScope != tc.scope {
				t.Errorf("executablePolicyScope = %q, want %q", c.ExecutablePolicyScope, tc.scope)
			}
			fb := c.ScopeFallback()
			if (tc.fallback == "") != (fb == "") || !strings.Contains(fb, tc.fallback) {
				t.Errorf("ScopeFallback() = %q, want it to say %q", fb, tc.fallback)
			}
			if fb != "" && !strings.Contains(fb, `"launch"`) {
				t.Errorf("ScopeFallback() = %q gives no way to silence it", fb)
			}
			// The effective scope is what validate and process_get_policy show.
			if b, _ := c.Redacted().MarshalJSON(); !strings.Contains(string(b), `"executablePolicyScope":"`+tc.scope+`"`) {
				t.Errorf("the shown policy lacks the effective scope: %s", b)
			}
			if c.Clone().ScopeFallback() != fb {
				t.Error("Clone loses the fallback reason")
			}
		})
	}
	// The built-in default and every profile that loads get the host's scope.
	withHost(t, fakeHost{})
	l, err := Load(LoadOptions{Cwd: "/srv", ReadFile: noFiles, Getenv: testEnv("HOME", "/h")})
	if err != nil || l.Config.ExecutablePolicyScope != ScopeTree {
		t.Errorf("built-in default: %v, scope %q", err, l.Config.ExecutablePolicyScope)
	}
	withHost(t, noLandlock)
	l, err = Load(LoadOptions{Cwd: "/srv", Profile: "development", ReadFile: noFiles, Getenv: testEnv("HOME", "/h")})
	if err != nil || l.Config.ExecutablePolicyScope != ScopeLaunch || l.Config.ScopeFallback() == "" {
		t.Errorf("development without Landlock: %v, scope %q", err, l.Config.ExecutablePolicyScope)
	}
}

// An explicit "tree" where the kernel has no Landlock refuses the config.
func TestExecutablePolicyScopeTreeRefusedWithoutLandlock(t *testing.T) {
	withHost(t, fakeHost{ll: errors.New("probe says no")})
	_, err := loadJSON(`{"executablePolicyScope":"tree"}`)
	ce := wantConfigError(t, err, errcode.LayerUnavailable, "executablePolicyScope")
	if ce.Layer != "landlock" || !strings.Contains(ce.Message, "probe says no") || !strings.Contains(ce.Remedy, `"launch"`) {
		t.Errorf("layer %q message %q remedy %q", ce.Layer, ce.Message, ce.Remedy)
	}
}

func TestExecutablePolicyScopeBadValues(t *testing.T) {
	withHost(t, fakeHost{})
	for _, tc := range []struct {
		name, doc, key string
	}{
		{"unknown scope", `{"executablePolicyScope":"forest"}`, "executablePolicyScope"},
		{"case variant", `{"executablePolicyScope":"Tree"}`, "executablePolicyScope"},
		{"bare helper name", `{"helperExecutables":["make"]}`, "helperExecutables[0]"},
		{"relative helper", `{"helperExecutables":["/usr/bin/make","bin/x"]}`, "helperExecutables[1]"},
		{"empty helper", `{"helperExecutables":[""]}`, "helperExecutables[0]"},
		{"bad glob", `{"helperExecutables":["/usr/lib/[a-"]}`, "helperExecutables[0]"},
		{"always-blocked helper", `{"helperExecutables":["/usr/bin/sudo"]}`, "helperExecutables[0]"},
		{"always-blocked helper, any case", `{"helperExecutables":["/usr/bin/ENV"]}`, "helperExecutables[0]"},
		{"shell helper while shells are blocked", `{"helperExecutables":["/bin/bash"]}`, "helperExecutables[0]"},
		{"helper also blocked", `{"helperExecutables":["/usr/bin/curl"],"additionalBlockedExecutables":["curl"]}`, "helperExecutables[0]"},
		{"helpers with the launch scope", `{"executablePolicyScope":"launch","helperExecutables":["/usr/bin/make"]}`, "helperExecutables"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadJSON(tc.doc)
			wantConfigError(t, err, errcode.InvalidInput, tc.key)
		})
	}
	// Accepted: a shell helper once shells are allowed; globs (filtered
	// when the list is built, not here); the schema's enum.
	for _, doc := range []string{
		`{"blockShellInterpreters":false,"helperExecutables":["/bin/bash"]}`,
		`{"helperExecutables":["/usr/bin/*","/usr/lib/git-core/git-*"]}`,
	} {
		if _, err := loadJSON(doc); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	r := resolvedSchema(t)
	for doc, ok := range map[string]bool{
		`{"executablePolicyScope":"tree"}`: true, `{"executablePolicyScope":"launch"}`: true,
		`{"executablePolicyScope":""}`: true, `{"executablePolicyScope":"forest"}`: false,
		`{"helperExecutables":"/usr/bin/make"}`: false,
	} {
		if err := r.Validate(instance(t, []byte(doc))); (err == nil) != ok {
			t.Errorf("schema on %s: %v, want valid=%v", doc, err, ok)
		}
	}
}
