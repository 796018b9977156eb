package config

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestDecodeRefuses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		doc     string
		key     string
		inError string // a fragment the message or remedy must contain
	}{
		{"case-variant duplicate", `{"allowedExecutables":["/bin/ls"],"ALLOWEDEXECUTABLES":["/bin/rm"]}`, "ALLOWEDEXECUTABLES", `did you mean "allowedExecutables"`},
		{"case variant alone", `{"AllowedExecutables":["node"]}`, "AllowedExecutables", "case-sensitive"},
		{"exact duplicate", `{"allowedExecutables":["/bin/ls"],"allowedExecutables":["/bin/rm"]}`, "allowedExecutables", "more than once"},
		{"nested duplicate", `{"namespaces":{"pid":true,"pid":false}}`, "namespaces.pid", "more than once"},
		{"unknown top-level key", `{"allowedExecutable":["node"]}`, "allowedExecutable", "unknown key"},
		{"unknown in namespaces", `{"namespaces":{"pid":true,"cgroup":true}}`, "namespaces.cgroup", "unknown key"},
		{"unknown in defaultResourceLimits", `{"defaultResourceLimits":{"maxMemoryMb":5}}`, "defaultResourceLimits.maxMemoryMb", `did you mean "maxMemoryMB"`},
		{"unknown in maximumResourceLimits", `{"maximumResourceLimits":{"maxThreads":5}}`, "maximumResourceLimits.maxThreads", "unknown key"},
		{"unknown in agents", `{"agents":[{"id":"a","tokenSha256":"x","token":"secret"}]}`, "agents[0].token", "unknown key"},
		{"bool as string", `{"blockShellInterpreters":"false"}`, "blockShellInterpreters", "boolean"},
		{"number as string", `{"maxConcurrentProcesses":"10"}`, "maxConcurrentProcesses", "integer"},
		{"fraction into integer", `{"maxProcessLifetime":1.5}`, "maxProcessLifetime", "integer"},
		{"out of range", `{"maxOutputBufferSize":99999999999999999999999}`, "maxOutputBufferSize", "integer"},
		{"string instead of array", `{"allowedExecutables":"node"}`, "allowedExecutables", "array of strings"},
		{"number in array", `{"allowedExecutables":["node",5]}`, "allowedExecutables[1]", "string"},
		{"array instead of object", `{"namespaces":[true]}`, "namespaces", "object"},
		{"null value", `{"blockShellInterpreters":null}`, "blockShellInterpreters", "null"},
		{"nested null", `{"defaultResourceLimits":{"maxMemoryMB":null}}`, "defaultResourceLimits.maxMemoryMB", "null"},
		{"null in array", `{"allowedExecutables":[null]}`, "allowedExecutables[0]", "null"},
		{"trailing garbage", `{"allowedExecutables":["node"]} x`, "", "byte offset"},
		{"two documents", `{} {}`, "", "byte offset"},
		{"syntax error", `{"allowedExecutables":["node",]}`, "allowedExecutables", "byte offset"},
		{"truncated", `{"allowedExecutables":["node"`, "allowedExecutables", "ends too early"},
		{"empty", ``, "", "empty"},
		{"whitespace", " \n\t", "", "empty"},
		{"top-level array", `[]`, "", "not an object"},
		{"top-level string", `"x"`, "", "not an object"},
		{"invalid utf-8", "{\"searchPath\":\"\xff\"}", "searchPath", "UTF-8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := validConfig()
			before := base.Clone()
			_, err := Decode([]byte(tc.doc), base)
			ce := wantConfigError(t, err, errcode.InvalidInput, tc.key)
			if !strings.Contains(ce.Message+" "+ce.Remedy, tc.inError) {
				t.Errorf("error %q does not mention %q", err, tc.inError)
			}
			if !reflect.DeepEqual(base, before) {
				t.Errorf("a refused document changed the base config")
			}
		})
	}
}

func TestDecodeLayering(t *testing.T) {
	base := defaults(testEnv("HOME", "/home/u"))
	base.AllowedExecutables = []string{"a", "b", "c"}
	base.BlockedArgumentPatterns = []string{"x"}
	base.MaximumResourceLimits = ResourceLimits{MaxMemoryMB: 4096, MaxCpuTime: 900}
	base.Namespaces = Namespaces{PID: true, Mount: true}
	explicit, err := Decode([]byte(`{
		"allowedExecutables": ["node"],
		"blockedArgumentPatterns": [],
		"defaultResourceLimits": {"maxMemoryMB": 512},
		"maximumResourceLimits": {"maxCpuTime": 60},
		"namespaces": {"pid": false, "user": true},
		"maxLaunchesPerMinute": 0
	}`), base)
	if err != nil {
		t.Fatal(err)
	}
	// Arrays replace, including with an empty array.
	if !slices.Equal(base.AllowedExecutables, []string{"node"}) {
		t.Errorf("allowedExecutables = %v, want [node] (arrays replace)", base.AllowedExecutables)
	}
	if len(base.BlockedArgumentPatterns) != 0 {
		t.Errorf("blockedArgumentPatterns = %v, want [] (an empty array replaces)", base.BlockedArgumentPatterns)
	}
	// Objects merge per key.
	wantDef := ResourceLimits{MaxCpuPercent: 80, MaxMemoryMB: 512, MaxFileDescriptors: 1024, MaxCpuTime: 300, MaxProcesses: 10}
	if base.DefaultResourceLimits != wantDef {
		t.Errorf("defaultResourceLimits = %+v, want %+v", base.DefaultResourceLimits, wantDef)
	}
	if want := (ResourceLimits{MaxMemoryMB: 4096, MaxCpuTime: 60}); base.MaximumResourceLimits != want {
		t.Errorf("maximumResourceLimits = %+v, want %+v", base.MaximumResourceLimits, want)
	}
	if want := (Namespaces{PID: false, Mount: true, User: true}); base.Namespaces != want {
		t.Errorf("namespaces = %+v, want %+v", base.Namespaces, want)
	}
	// A key set to its zero value is set, not ignored.
	if base.MaxLaunchesPerMinute != 0 {
		t.Errorf("maxLaunchesPerMinute = %d, want 0 (explicit zero)", base.MaxLaunchesPerMinute)
	}
	// Keys the document does not name keep the base's value.
	if base.MaxConcurrentProcesses != 10 || !base.BlockShellInterpreters || base.SearchPath != DefaultSearchPath {
		t.Errorf("untouched keys changed: %+v", base)
	}
	wantExplicit := Explicit{
		"allowedExecutables": true, "blockedArgumentPatterns": true,
		"defaultResourceLimits": true, "defaultResourceLimits.maxMemoryMB": true,
		"maximumResourceLimits": true, "maximumResourceLimits.maxCpuTime": true,
		"namespaces": true, "namespaces.pid": true, "namespaces.user": true,
		"maxLaunchesPerMinute": true,
	}
	if !reflect.DeepEqual(explicit, wantExplicit) {
		t.Errorf("explicit = %v, want %v", explicit, wantExplicit)
	}
}

func TestDecodeAgentsExplicitTracking(t *testing.T) {
	base := validConfig()
	explicit, err := Decode([]byte(`{"agents":[{"id":"a","tokenSha256":"`+strings.Repeat("a", 64)+`"}]}`), base)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(explicit, Explicit{"agents": true}) {
		t.Errorf("explicit = %v, want only agents (array elements are not keys)", explicit)
	}
	if len(base.Agents) != 1 || base.Agents[0].ID != "a" {
		t.Errorf("agents = %+v", base.Agents)
	}
}

func TestPointerKey(t *testing.T) {
	for ptr, want := range map[string]string{
		"":                                   "",
		"/enableChroot":                      "enableChroot",
		"/agents/1/id":                       "agents[1].id",
		"/defaultResourceLimits/maxMemoryMB": "defaultResourceLimits.maxMemoryMB",
		"/a~1b/c~0d":                         "a/b.c~d",
	} {
		if got := pointerKey(ptr); got != want {
			t.Errorf("pointerKey(%q) = %q, want %q", ptr, got, want)
		}
	}
}

// An unknown key gets the closest known one as a suggestion; a JSON syntax
// error names its line and column.
func TestDecodeSuggestsAndLocates(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"allowedExecutable": ["node"]}`, `did you mean "allowedExecutables"`},
		{`{"maxConcurentProcesses": 3}`, `did you mean "maxConcurrentProcesses"`},
		{`{"defaultResourceLimits": {"maxMemoryMb": 3}}`, `did you mean "maxMemoryMB"`},
		{"{\n  \"allowedExecutables\": [\"node\"],,\n}", "line 2, column 34"},
	} {
		_, err := Decode([]byte(tc.doc), validConfig())
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want it to say %q", tc.doc, err, tc.want)
		}
	}
	if _, err := Decode([]byte(`{"zzzzzz": 1}`), validConfig()); err == nil || strings.Contains(err.Error(), "did you mean") {
		t.Errorf("a key like no other: %v, want no suggestion", err)
	}
}
