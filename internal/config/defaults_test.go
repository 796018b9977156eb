package config

import (
	stdjson "encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c := defaults(testEnv("HOME", "/home/u"))
	want := &Config{
		AllowedExecutables:     []string{},
		BlockSetuidExecutables: true, BlockShellInterpreters: true, SearchPath: "/usr/local/bin:/usr/bin:/bin",
		MaxArgumentCount: 100, MaxArgumentLength: 4096, BlockInjectionPatterns: true,
		MaxEnvVarCount:         50,
		DefaultResourceLimits:  ResourceLimits{MaxCpuPercent: 80, MaxMemoryMB: 1024, MaxFileDescriptors: 1024, MaxCpuTime: 300, MaxProcesses: 10},
		MaxConcurrentProcesses: 10, MaxProcessLifetime: 3600, ExitedRetentionSeconds: 600,
		MaxLaunchesPerMinute: 10, RateLimitCooldownSeconds: 60,
		AllowProcessTermination: true, AllowGroupTermination: true, AllowForcedTermination: true,
		AllowStdinInput: true, AllowOutputCapture: true, MaxOutputBufferSize: 10485760, MaxRetainedOutputBytes: 256 << 20, HTTPSessionIdleSeconds: 600,
		EnableAuditLog: true, AuditLogPath: "/home/u/.local/state/mcp-process/audit.log", AuditLogLevel: "info",
		ConfirmationTimeoutSeconds: 120,
		ApprovalMode:               ApprovalModeClient,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", c, want)
	}
	// Everything not listed is off/empty: no layer is enabled by default.
	for _, lk := range layerKeys {
		if lk.enabling(c) {
			t.Errorf("defaults enable %s", lk.key)
		}
	}
}

// TestProfilesAreTheSeedExamplesOverDefaults: the seed's examples, without
// the directories a stock host lacks (SPEC 7.3): no working directory (Load
// fills in the start directory) and no chrootDirectory (a composed jail).
func TestProfilesAreTheSeedExamplesOverDefaults(t *testing.T) {
	env := testEnv("HOME", "/h")
	max, err := profile("maximum", env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(max.AllowedExecutables, []string{"node"}) || max.MaxArgumentCount != 10 || max.MaxArgumentLength != 500 ||
		!slices.Equal(max.AllowedEnvVars, []string{"NODE_ENV"}) || len(max.AllowedWorkingDirectories) != 0 ||
		max.MaxConcurrentProcesses != 1 || max.MaxConcurrentProcessesPerAgent != 1 || max.MaxProcessLifetime != 300 ||
		max.MaxLaunchesPerMinute != 5 || max.AllowGroupTermination || max.AllowForcedTermination || max.AllowStdinInput ||
		max.MaxOutputBufferSize != 1048576 || !max.EnableChroot || max.ChrootDirectory != "" ||
		!max.EnableNamespaces || max.Namespaces != (Namespaces{true, true, true, true, true, true}) ||
		!max.EnableSeccomp || max.SeccompProfile != "strict" || !max.BlockNetworkAccess || !max.EnableSecurityAlerts ||
		!max.RequireConfirmation || !max.ReadOnlyFilesystem {
		t.Errorf("maximum = %+v", max)
	}
	// maxProcesses is not in the seed's maximum example: the default fills it.
	if want := (ResourceLimits{25, 256, 50, 60, 10}); max.DefaultResourceLimits != want {
		t.Errorf("maximum defaultResourceLimits = %+v, want %+v", max.DefaultResourceLimits, want)
	}

	dev, err := profile("development", env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dev.AllowedExecutables, []string{"node", "npm", "git", "python3", "pip3"}) ||
		len(dev.AllowedWorkingDirectories) != 0 ||
		dev.DefaultResourceLimits != (ResourceLimits{80, 2048, 1024, 600, 128}) || dev.MaxLaunchesPerMinute != 20 {
		t.Errorf("development = %+v", dev)
	}

	ci, err := profile("cicd", env)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ci.AllowedExecutables, []string{"node", "npm", "yarn", "git", "docker", "kubectl"}) ||
		ci.BlockShellInterpreters || len(ci.AllowedWorkingDirectories) != 0 ||
		ci.DefaultResourceLimits != (ResourceLimits{90, 4096, 1024, 1800, 256}) || ci.MaxConcurrentProcesses != 20 ||
		ci.MaxProcessLifetime != 7200 || !ci.EnableChroot || ci.ChrootDirectory != "" || !ci.EnableNamespaces ||
		!slices.Equal(ci.AllowedTimeWindows, []string{"* 00:00-24:00"}) {
		t.Errorf("cicd = %+v", ci)
	}
	if !slices.Equal(ProfileNames(), []string{"cicd", "development", "maximum"}) {
		t.Errorf("ProfileNames() = %v", ProfileNames())
	}
	// SPEC 7.1a: no built-in profile lets children create unix sockets
	// (the development tools work without; docs/configuration.md).
	for _, c := range []*Config{max, dev, ci, Defaults()} {
		if c.AllowUnixSockets {
			t.Errorf("a built-in profile sets allowUnixSockets: %+v", c)
		}
	}
	// Each call returns a fresh copy.
	a, _ := Profile("development")
	a.AllowedExecutables[0] = "changed"
	b, _ := Profile("development")
	if b.AllowedExecutables[0] != "node" {
		t.Errorf("Profile shares state between calls")
	}
}

func TestBuiltinDefault(t *testing.T) {
	c := BuiltinDefault("/srv/project")
	if !slices.Equal(c.AllowedWorkingDirectories, []string{"/srv/project"}) || !slices.Contains(c.AllowedExecutables, "git") {
		t.Errorf("BuiltinDefault = %+v", c)
	}
}

// TestCloneIsDeep walks every slice field: a new slice field that Clone
// forgets fails here.
func TestCloneIsDeep(t *testing.T) {
	c := &Config{}
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		case reflect.Map, reflect.Pointer:
			t.Fatalf("field %s: Clone does not handle %v", v.Type().Field(i).Name, f.Kind())
		}
	}
	d := c.Clone()
	dv := reflect.ValueOf(d).Elem()
	for i := range dv.NumField() {
		f := dv.Field(i)
		if f.Kind() != reflect.Slice {
			continue
		}
		if f.Len() != 1 || f.Pointer() == v.Field(i).Pointer() {
			t.Errorf("Clone shares or drops the slice %s", dv.Type().Field(i).Name)
		}
	}
	if (*Config)(nil).Clone() != nil {
		t.Error("Clone of nil is not nil")
	}
}

func TestRedacted(t *testing.T) {
	c := validConfig()
	c.SecurityAlertWebhook = "https://alerts.example.com/hook"
	c.SecurityAlertWebhookSecret = "hunter2"
	tok := strings.Repeat("ab", 32)
	c.Agents = []Agent{{ID: "ci", TokenSha256: tok}, {ID: "dev", TokenSha256: tok}}
	r := c.Redacted()
	if r.SecurityAlertWebhookSecret != "[redacted]" || r.Agents[0].TokenSha256 != "[redacted]" || r.Agents[1].TokenSha256 != "[redacted]" {
		t.Errorf("Redacted = %+v", r)
	}
	if r.Agents[0].ID != "ci" || r.SecurityAlertWebhook != c.SecurityAlertWebhook {
		t.Errorf("Redacted hid non-secrets: %+v", r)
	}
	if c.SecurityAlertWebhookSecret != "hunter2" || c.Agents[0].TokenSha256 != tok {
		t.Errorf("Redacted changed the original")
	}
	// No secret set: nothing to hide, and an empty secret stays empty.
	if got := validConfig().Redacted().SecurityAlertWebhookSecret; got != "" {
		t.Errorf("empty secret redacted to %q", got)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	c := validConfig()
	c.Agents = nil
	b, err := stdjson.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("marshalled config contains null: %s", b)
	}
	d := defaults(testEnv())
	if _, err := Decode(b, d); err != nil {
		t.Fatalf("Decode(Marshal(c)): %v", err)
	}
	// Empty arrays come back as empty (not nil) slices; compare after normalising.
	if !reflect.DeepEqual(normalize(c), normalize(d)) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", c, d)
	}
}

func normalize(c *Config) *Config {
	c = c.Clone()
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() == 0 {
			f.Set(reflect.Zero(f.Type()))
		}
	}
	return c
}
