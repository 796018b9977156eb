package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestValidConfigsPass(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
	}{
		{"valid base", func(*Config) {}},
		{"empty allowlist (nothing runs)", func(c *Config) { c.AllowedExecutables = nil }},
		{"shell allowed when blocking is off", func(c *Config) {
			c.BlockShellInterpreters = false
			c.AllowedExecutables = []string{"bash", "/bin/sh"}
		}},
		{"glob naming blocked tools is left to launch time", func(c *Config) { c.AllowedExecutables = []string{"/usr/bin/*"} }},
		{"all zero-means-no-limit keys at 0", func(c *Config) {
			c.MaxArgumentCount, c.MaxArgumentLength, c.MaxEnvVarCount = 0, 0, 0
			c.MaxConcurrentProcesses, c.MaxConcurrentProcessesPerAgent, c.MaxTotalProcesses = 0, 0, 0
			c.MaxLaunchesPerMinute, c.MaxLaunchesPerHour, c.RateLimitCooldownSeconds = 0, 0, 0
			c.ExitedRetentionSeconds, c.AutoApproveAfterCount, c.TmpfsSize = 0, 0, 0
			c.DefaultResourceLimits = ResourceLimits{}
		}},
		{"default equal to maximum", func(c *Config) { c.MaximumResourceLimits = c.DefaultResourceLimits }},
		{"webhook with secret", func(c *Config) {
			c.EnableSecurityAlerts = true
			c.SecurityAlertWebhook = "https://alerts.example.com/hook"
			c.SecurityAlertWebhookSecret = "s3cret"
		}},
		{"alerts without webhook", func(c *Config) { c.EnableSecurityAlerts = true }},
		{"time zone", func(c *Config) { c.TimeZone = "Europe/Paris" }},
		{"time windows", func(c *Config) {
			c.AllowedTimeWindows = []string{"Mon-Fri 09:00-17:00"}
			c.BlockedTimeWindows = []string{"Sat-Sun *"}
		}},
		{"agents", func(c *Config) {
			c.Agents = []Agent{{ID: "ci", TokenSha256: strings.Repeat("ab", 32)}, {ID: "dev", TokenSha256: strings.Repeat("CD", 32)}}
		}},
		{"audit off without a path", func(c *Config) { c.EnableAuditLog = false; c.AuditLogPath = "" }},
		{"inert layer parameters", func(c *Config) {
			c.ChrootDirectory = "/nonexistent/jail"
			c.SeccompProfile = "moderate"
			c.MacProfile = "p"
		}},
		{"layer keys at their off values", func(c *Config) {
			c.AllowedNetworkDestinations = []string{}
			c.DropCapabilities = []string{}
			c.TmpfsSize = 0
		}},
		{"allowed env vars and inherit", func(c *Config) {
			c.AllowedEnvVars = []string{"NODE_ENV", "LOG_LEVEL"}
			c.InheritEnvVars = []string{"LC_ALL", "LANG"}
			c.AdditionalBlockedEnvVars = []string{"AWS_SECRET_KEY"}
		}},
		{"blocked argument patterns", func(c *Config) { c.BlockedArgumentPatterns = []string{"--unsafe-.*", ".*password.*"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
		})
	}
}

func TestValidateRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		key string
		mod func(*Config)
	}{
		{"allowedExecutables[0]", func(c *Config) { c.AllowedExecutables = []string{""} }},
		{"allowedExecutables[1]", func(c *Config) { c.AllowedExecutables = []string{"node", "./bin/tool"} }},
		{"allowedExecutables[0]", func(c *Config) { c.AllowedExecutables = []string{"bin/tool"} }},
		{"allowedExecutables[0]", func(c *Config) { c.AllowedExecutables = []string{"/usr/bin/[a-"} }},
		{"additionalBlockedExecutables[0]", func(c *Config) { c.AdditionalBlockedExecutables = []string{""} }},
		{"searchPath", func(c *Config) { c.SearchPath = "" }},
		{"searchPath", func(c *Config) { c.SearchPath = "/usr/bin:bin" }},
		{"searchPath", func(c *Config) { c.SearchPath = "/usr/bin::/bin" }},
		{"maxArgumentCount", func(c *Config) { c.MaxArgumentCount = -1 }},
		{"maxArgumentLength", func(c *Config) { c.MaxArgumentLength = -1 }},
		{"blockedArgumentPatterns[1]", func(c *Config) { c.BlockedArgumentPatterns = []string{"ok", "(unclosed"} }},
		{"additionalBlockedEnvVars[0]", func(c *Config) { c.AdditionalBlockedEnvVars = []string{"A=B"} }},
		{"allowedEnvVars[0]", func(c *Config) { c.AllowedEnvVars = []string{""} }},
		{"maxEnvVarCount", func(c *Config) { c.MaxEnvVarCount = -5 }},
		{"inheritEnvVars[0]", func(c *Config) { c.InheritEnvVars = []string{"X\x00"} }},
		// Rules that policy.New alone used to check (issue 9: config checks once).
		{"blockedArgumentPatterns[0]", func(c *Config) { c.BlockedArgumentPatterns = []string{"a)|(b"} }},
		{"additionalBlockedExecutables[0]", func(c *Config) { c.AdditionalBlockedExecutables = []string{"cu[rl"} }},
		{"inheritEnvVars[1]", func(c *Config) { c.InheritEnvVars = []string{"LANG", "1BAD"} }},
		{"inheritEnvVars[1]", func(c *Config) { c.InheritEnvVars = []string{"LANG", "A-B"} }},
		{"inheritEnvVars[1]", func(c *Config) { c.InheritEnvVars = []string{"LANG", "HOME"} }},
		{"allowedEnvVars[1]", func(c *Config) { c.AllowedEnvVars = []string{"FOO", "home"} }},
		{"allowedWorkingDirectories[0]", func(c *Config) { c.AllowedWorkingDirectories = []string{"work"} }},
		{"allowedWorkingDirectories[1]", func(c *Config) { c.AllowedWorkingDirectories = []string{"/a", ""} }},
		{"blockedWorkingDirectories[0]", func(c *Config) { c.BlockedWorkingDirectories = []string{"./etc"} }},
		{"defaultResourceLimits.maxCpuPercent", func(c *Config) { c.DefaultResourceLimits.MaxCpuPercent = -1 }},
		{"defaultResourceLimits.maxMemoryMB", func(c *Config) { c.DefaultResourceLimits.MaxMemoryMB = -1 }},
		{"defaultResourceLimits.maxFileDescriptors", func(c *Config) { c.DefaultResourceLimits.MaxFileDescriptors = -1 }},
		{"defaultResourceLimits.maxCpuTime", func(c *Config) { c.DefaultResourceLimits.MaxCpuTime = -1 }},
		{"defaultResourceLimits.maxProcesses", func(c *Config) { c.DefaultResourceLimits.MaxProcesses = -1 }},
		{"maximumResourceLimits.maxMemoryMB", func(c *Config) { c.MaximumResourceLimits.MaxMemoryMB = -1 }},
		{"maxConcurrentProcesses", func(c *Config) { c.MaxConcurrentProcesses = -1 }},
		{"maxConcurrentProcessesPerAgent", func(c *Config) { c.MaxConcurrentProcessesPerAgent = -1 }},
		{"maxProcessLifetime", func(c *Config) { c.MaxProcessLifetime = 0 }},
		{"maxTotalProcesses", func(c *Config) { c.MaxTotalProcesses = -1 }},
		{"exitedRetentionSeconds", func(c *Config) { c.ExitedRetentionSeconds = -1 }},
		{"maxLaunchesPerMinute", func(c *Config) { c.MaxLaunchesPerMinute = -1 }},
		{"maxLaunchesPerHour", func(c *Config) { c.MaxLaunchesPerHour = -1 }},
		{"rateLimitCooldownSeconds", func(c *Config) { c.RateLimitCooldownSeconds = -1 }},
		{"maxOutputBufferSize", func(c *Config) { c.MaxOutputBufferSize = 0 }},
		{"maxRetainedOutputBytes", func(c *Config) { c.MaxRetainedOutputBytes = 0 }},
		{"httpSessionIdleSeconds", func(c *Config) { c.HTTPSessionIdleSeconds = 0 }},
		{"chrootDirectory", func(c *Config) { c.ChrootDirectory = "jail" }},
		{"seccompProfile", func(c *Config) { c.SeccompProfile = "paranoid" }},
		{"seccompProfile", func(c *Config) { c.SeccompProfile = "Strict" }},
		{"auditLogPath", func(c *Config) { c.AuditLogPath = "audit.log" }},
		{"auditLogPath", func(c *Config) { c.AuditLogPath = "" }},
		{"auditLogLevel", func(c *Config) { c.AuditLogLevel = "verbose" }},
		{"auditLogLevel", func(c *Config) { c.AuditLogLevel = "" }},
		{"securityViolationLogPath", func(c *Config) { c.SecurityViolationLogPath = "v.log" }},
		{"securityAlertWebhook", func(c *Config) { c.SecurityAlertWebhook = "ftp://x/y"; c.SecurityAlertWebhookSecret = "s" }},
		{"securityAlertWebhook", func(c *Config) { c.SecurityAlertWebhook = "https://"; c.SecurityAlertWebhookSecret = "s" }},
		{"securityAlertWebhook", func(c *Config) { c.SecurityAlertWebhook = "alerts.example.com"; c.SecurityAlertWebhookSecret = "s" }},
		{"securityAlertWebhookSecret", func(c *Config) { c.SecurityAlertWebhookSecret = "s" }},
		{"autoApproveAfterCount", func(c *Config) { c.AutoApproveAfterCount = -1 }},
		{"confirmationTimeoutSeconds", func(c *Config) { c.ConfirmationTimeoutSeconds = 0 }},
		{"allowedTimeWindows[0]", func(c *Config) { c.AllowedTimeWindows = []string{" "} }},
		{"blockedTimeWindows[0]", func(c *Config) { c.BlockedTimeWindows = []string{""} }},
		{"timeZone", func(c *Config) { c.TimeZone = "Mars/Olympus_Mons" }},
		{"tmpfsSize", func(c *Config) { c.TmpfsSize = -1 }},
		{"agents[0].id", func(c *Config) { c.Agents = []Agent{{ID: " ", TokenSha256: strings.Repeat("a", 64)}} }},
		{"agents[1].id", func(c *Config) {
			c.Agents = []Agent{{ID: "a", TokenSha256: strings.Repeat("a", 64)}, {ID: "a", TokenSha256: strings.Repeat("b", 64)}}
		}},
		{"agents[0].tokenSha256", func(c *Config) { c.Agents = []Agent{{ID: "a", TokenSha256: "abc"}} }},
		{"agents[0].tokenSha256", func(c *Config) { c.Agents = []Agent{{ID: "a", TokenSha256: strings.Repeat("g", 64)}} }},
		{"agents[1].tokenSha256", func(c *Config) {
			c.Agents = []Agent{{ID: "a", TokenSha256: strings.Repeat("a", 64)}, {ID: "b", TokenSha256: strings.Repeat("A", 64)}}
		}},
	} {
		t.Run(tc.key, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			wantConfigError(t, c.Validate(), errcode.InvalidInput, tc.key)
		})
	}
}

// inheritEnvVars cannot copy a blocked variable from the server's
// environment: Validate refuses such a config, naming the entry (moved
// from the policy package, which trusts a validated config).
func TestInheritEnvVarsCannotSmuggle(t *testing.T) {
	for _, name := range []string{"GIT_CONFIG_COUNT", "npm_config_script_shell", "PYTHONUSERBASE", "EDITOR", "SSH_AUTH_SOCK", "LD_PRELOAD"} {
		c := validConfig()
		c.InheritEnvVars = []string{"LANG", name}
		wantConfigError(t, c.Validate(), errcode.InvalidInput, "inheritEnvVars[1]")
	}
}

// IsGlob is path.Match's set of special characters, the escape included
// (config and policy disagreed on the backslash; the matcher decides).
func TestIsGlob(t *testing.T) {
	for s, want := range map[string]bool{"node": false, "/usr/bin/node": false, "py*": true, "/a/b?": true, "[ab]c": true, `a\b`: true} {
		if IsGlob(s) != want {
			t.Errorf("IsGlob(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestValidateRefusesContradictions(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   string
		names []string // what the message must name (both sides)
		mod   func(*Config)
	}{
		{"always-blocked name allowed", "allowedExecutables[1]", []string{"sudo", "always blocked"},
			func(c *Config) { c.AllowedExecutables = []string{"node", "sudo"} }},
		{"always-blocked path allowed", "allowedExecutables[0]", []string{"/usr/bin/rm"},
			func(c *Config) { c.AllowedExecutables = []string{"/usr/bin/rm"} }},
		{"always-blocked case variant", "allowedExecutables[0]", []string{"SUDO"},
			func(c *Config) { c.AllowedExecutables = []string{"SUDO"} }},
		{"mkfs glob family", "allowedExecutables[0]", []string{"mkfs.ext4"},
			func(c *Config) { c.AllowedExecutables = []string{"mkfs.ext4"} }},
		{"exec wrapper allowed", "allowedExecutables[0]", []string{"env"},
			func(c *Config) { c.AllowedExecutables = []string{"env"} }},
		{"shell allowed while blocked", "allowedExecutables[0]", []string{"bash", "blockShellInterpreters"},
			func(c *Config) { c.AllowedExecutables = []string{"bash"} }},
		{"shell path allowed while blocked", "allowedExecutables[0]", []string{"/bin/dash", "blockShellInterpreters"},
			func(c *Config) { c.AllowedExecutables = []string{"/bin/dash"} }},
		{"allowed and additionally blocked", "allowedExecutables[0]", []string{"curl", "additionalBlockedExecutables"},
			func(c *Config) {
				c.AllowedExecutables = []string{"curl"}
				c.AdditionalBlockedExecutables = []string{"wget", "CURL"}
			}},
		{"allowed path and additionally blocked name", "allowedExecutables[0]", []string{"curl", "additionalBlockedExecutables"},
			func(c *Config) {
				c.AllowedExecutables = []string{"/usr/bin/curl"}
				c.AdditionalBlockedExecutables = []string{"curl"}
			}},
		{"always-blocked env allowed", "allowedEnvVars[1]", []string{"LD_PRELOAD"},
			func(c *Config) { c.AllowedEnvVars = []string{"NODE_ENV", "LD_PRELOAD"} }},
		{"always-blocked env allowed, lower case", "allowedEnvVars[0]", []string{"path"},
			func(c *Config) { c.AllowedEnvVars = []string{"path"} }},
		{"DYLD prefix allowed", "allowedEnvVars[0]", []string{"DYLD_INSERT_LIBRARIES"},
			func(c *Config) { c.AllowedEnvVars = []string{"DYLD_INSERT_LIBRARIES"} }},
		{"additionally blocked env allowed", "allowedEnvVars[0]", []string{"aws_secret_key", "additionalBlockedEnvVars"},
			func(c *Config) {
				c.AllowedEnvVars = []string{"aws_secret_key"}
				c.AdditionalBlockedEnvVars = []string{"AWS_SECRET_KEY"}
			}},
		{"always-blocked env inherited", "inheritEnvVars[0]", []string{"LD_LIBRARY_PATH"},
			func(c *Config) { c.InheritEnvVars = []string{"LD_LIBRARY_PATH"} }},
		{"code-running env family allowed", "allowedEnvVars[1]", []string{"npm_config_script_shell"},
			func(c *Config) { c.AllowedEnvVars = []string{"NODE_ENV", "npm_config_script_shell"} }},
		{"git config env allowed", "allowedEnvVars[0]", []string{"GIT_CONFIG_COUNT"},
			func(c *Config) { c.AllowedEnvVars = []string{"GIT_CONFIG_COUNT"} }},
		{"code-running env inherited", "inheritEnvVars[0]", []string{"PYTHONUSERBASE"},
			func(c *Config) { c.InheritEnvVars = []string{"PYTHONUSERBASE"} }},
		{"default cpu above maximum", "defaultResourceLimits.maxCpuPercent", []string{"maximumResourceLimits.maxCpuPercent"},
			func(c *Config) { c.MaximumResourceLimits.MaxCpuPercent = 50 }},
		{"default memory above maximum", "defaultResourceLimits.maxMemoryMB", []string{"maximumResourceLimits.maxMemoryMB", "512"},
			func(c *Config) { c.MaximumResourceLimits.MaxMemoryMB = 512 }},
		{"default fds above maximum", "defaultResourceLimits.maxFileDescriptors", []string{"maximumResourceLimits.maxFileDescriptors"},
			func(c *Config) { c.MaximumResourceLimits.MaxFileDescriptors = 64 }},
		{"default cpu time above maximum", "defaultResourceLimits.maxCpuTime", []string{"maximumResourceLimits.maxCpuTime"},
			func(c *Config) { c.MaximumResourceLimits.MaxCpuTime = 10 }},
		{"default processes above maximum", "defaultResourceLimits.maxProcesses", []string{"maximumResourceLimits.maxProcesses"},
			func(c *Config) { c.MaximumResourceLimits.MaxProcesses = 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			err := c.Validate()
			wantConfigError(t, err, errcode.InvalidInput, tc.key)
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %q", err, n)
				}
			}
		})
	}
}

// withLayerBuilt pretends a layer is built for the duration of a test.
func withLayerBuilt(t *testing.T, layer string) {
	t.Helper()
	old, had := builtLayers[layer]
	builtLayers[layer] = true
	t.Cleanup(func() {
		if had {
			builtLayers[layer] = old
		} else {
			delete(builtLayers, layer)
		}
	})
}

func TestChrootContradiction(t *testing.T) {
	withLayerBuilt(t, "chroot")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := writeFile(file, "x"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		dir     string
		wantErr bool
		code    errcode.Code
	}{
		{"missing directory", filepath.Join(dir, "nope"), true, errcode.InvalidInput},
		{"a file, not a directory", file, true, errcode.InvalidInput},
		// No directory asks for a jail composed at launch (SPEC 7.3).
		{"no directory", "", false, ""},
		{"existing directory", dir, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			c.EnableChroot = true
			c.ChrootDirectory = tc.dir
			err := c.Validate()
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			ce := wantConfigError(t, err, tc.code, "chrootDirectory")
			if !strings.Contains(err.Error(), "enableChroot") {
				t.Errorf("error %q does not name enableChroot", err)
			}
			// SPEC 7.3: the remedy says what a jail needs, not just mkdir.
			for _, w := range []string{"shared libraries", "remove chrootDirectory"} {
				if !strings.Contains(ce.Remedy, w) {
					t.Errorf("remedy %q does not say %q", ce.Remedy, w)
				}
			}
		})
	}
}

// withLayerUnbuilt pretends a layer is not built for the duration of a test.
func withLayerUnbuilt(t *testing.T, layer string) {
	t.Helper()
	old, had := builtLayers[layer]
	builtLayers[layer] = false
	t.Cleanup(func() {
		if had {
			builtLayers[layer] = old
		} else {
			delete(builtLayers, layer)
		}
	})
}

// fakeHost is a host with every layer available unless told otherwise.
type fakeHost struct {
	notRoot bool
	ns      map[string]error
	setattr error
	sc      error
	ll      error
	macErr  error
}

func (f fakeHost) root() bool               { return !f.notRoot }
func (f fakeHost) uid() int                 { return map[bool]int{true: 1000, false: 0}[f.notRoot] }
func (f fakeHost) gid() int                 { return map[bool]int{true: 1000, false: 0}[f.notRoot] }
func (f fakeHost) namespace(n string) error { return f.ns[n] }
func (f fakeHost) mountSetattr() error      { return f.setattr }
func (f fakeHost) seccomp() error           { return f.sc }
func (f fakeHost) landlock() (int, error)   { return 7, f.ll }
func (f fakeHost) mac() (string, error)     { return "apparmor", f.macErr }

func withHost(t *testing.T, h hostProbe) {
	t.Helper()
	old := host
	host = h
	t.Cleanup(func() { host = old })
}

// isolationKeys are the layer keys of this package's isolation layers,
// each with a value that enables it consistently.
var isolationKeys = []struct {
	key   string
	layer string
	mod   func(*Config)
}{
	{"enableChroot", "chroot", func(c *Config) { c.EnableChroot = true; c.ChrootDirectory = "/" }},
	{"enableNamespaces", "namespaces", func(c *Config) { c.EnableNamespaces = true; c.Namespaces.PID = true }},
	{"namespaces", "namespaces", func(c *Config) { c.Namespaces.User = true }},
	{"enableSeccomp", "seccomp", func(c *Config) { c.EnableSeccomp = true; c.SeccompProfile = "strict" }},
	{"enableMAC", "mac", func(c *Config) { c.EnableMAC = true; c.MacProfile = "p" }},
	{"dropCapabilities", "capabilities", func(c *Config) { c.DropCapabilities = []string{"CAP_NET_RAW"} }},
	{"keepCapabilities", "capabilities", func(c *Config) { c.KeepCapabilities = []string{"CAP_NET_BIND_SERVICE"} }},
	{"readOnlyFilesystem", "filesystem", func(c *Config) { c.ReadOnlyFilesystem = true }},
	{"tmpfsSize", "filesystem", func(c *Config) { c.ReadOnlyFilesystem = true; c.TmpfsSize = 100 }},
	{"writablePaths", "filesystem", func(c *Config) { c.ReadOnlyFilesystem = true; c.WritablePaths = []string{"/"} }},
	{"landlock", "landlock", func(c *Config) { c.Landlock = true }},
}

func TestLayerRefusals(t *testing.T) {
	withHost(t, fakeHost{})
	others := []struct {
		key   string
		layer string
		mod   func(*Config)
	}{
		{"blockNetworkAccess", "network", func(c *Config) { c.BlockNetworkAccess = true }},
		{"allowedNetworkDestinations", "network", func(c *Config) { c.AllowedNetworkDestinations = []string{"api.example.com"} }},
		{"blockedNetworkDestinations", "network", func(c *Config) { c.BlockedNetworkDestinations = []string{"169.254.169.254"} }},
		{"requireConfirmation", "approval", func(c *Config) { c.RequireConfirmation = true }},
		{"requireConfirmationFor", "approval", func(c *Config) { c.RequireConfirmationFor = []string{"make"} }},
		{"requireTerminationConfirmation", "approval", func(c *Config) { c.RequireTerminationConfirmation = true }},
	}
	for _, tc := range append(others, isolationKeys...) {
		t.Run(tc.key, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			withLayerUnbuilt(t, tc.layer)
			if tc.key == "writablePaths" {
				withLayerUnbuilt(t, "landlock")
			}
			first := tc.key
			if tc.key == "tmpfsSize" || tc.key == "writablePaths" {
				first = "readOnlyFilesystem" // checked in table order
			}
			err := c.Validate()
			ce := wantConfigError(t, err, errcode.LayerUnavailable, first)
			if ce.Layer != tc.layer {
				t.Errorf("layer = %q, want %q", ce.Layer, tc.layer)
			}
			if !strings.Contains(ce.Message, "not available in this build") {
				t.Errorf("message %q does not say the layer is not available in this build", ce.Message)
			}
			if !strings.Contains(ce.Remedy, "remove") || !strings.Contains(ce.Remedy, first) {
				t.Errorf("remedy %q does not say to remove %s", ce.Remedy, first)
			}
			ec := ce.Errcode()
			if ec.Code != errcode.LayerUnavailable || ec.Layer != tc.layer || !strings.Contains(ec.Message, first) {
				t.Errorf("Errcode() = %+v", ec)
			}
			// Lifting the refusal is one entry in builtLayers.
			withLayerBuilt(t, tc.layer)
			if tc.key == "namespaces" {
				c.EnableNamespaces = true
			}
			if err := c.Validate(); err != nil {
				t.Errorf("with the %s layer built: %v", tc.layer, err)
			}
		})
	}
}

// The isolation layers are built in this binary.
func TestIsolationLayersAreBuilt(t *testing.T) {
	for _, l := range []string{"chroot", "namespaces", "seccomp", "mac", "capabilities", "filesystem", "landlock"} {
		if !LayerBuilt(l) {
			t.Errorf("layer %s is not built", l)
		}
	}
}

// A built layer this host cannot enforce refuses the config at start.
func TestHostRefusals(t *testing.T) {
	e := errors.New("probe says no")
	for _, tc := range []struct {
		name  string
		host  fakeHost
		mod   func(*Config)
		key   string
		layer string
		says  string
	}{
		{"no MAC module", fakeHost{macErr: errors.New("neither AppArmor nor SELinux is active on this host")},
			func(c *Config) { c.EnableMAC = true; c.MacProfile = "p" }, "enableMAC", "mac", "neither AppArmor nor SELinux"},
		{"no landlock", fakeHost{ll: e}, func(c *Config) { c.Landlock = true }, "landlock", "landlock", "probe says no"},
		{"no seccomp", fakeHost{sc: e}, func(c *Config) { c.EnableSeccomp = true; c.SeccompProfile = "strict" }, "enableSeccomp", "seccomp", "probe says no"},
		{"no user namespaces", fakeHost{ns: map[string]error{"user": e}},
			func(c *Config) { c.EnableNamespaces = true; c.Namespaces.User = true }, "namespaces.user", "namespaces", "probe says no"},
		{"pid namespace without root", fakeHost{notRoot: true},
			func(c *Config) { c.EnableNamespaces = true; c.Namespaces.PID = true }, "namespaces.pid", "namespaces", "CAP_SYS_ADMIN"},
		{"chroot without root", fakeHost{notRoot: true},
			func(c *Config) { c.EnableChroot = true; c.ChrootDirectory = "/" }, "enableChroot", "chroot", "not root"},
		{"read-only without root", fakeHost{notRoot: true},
			func(c *Config) { c.ReadOnlyFilesystem = true }, "readOnlyFilesystem", "filesystem", "not root"},
		{"read-only without mount_setattr", fakeHost{setattr: e},
			func(c *Config) { c.ReadOnlyFilesystem = true }, "readOnlyFilesystem", "filesystem", "probe says no"},
		{"keep capabilities without root", fakeHost{notRoot: true},
			func(c *Config) { c.KeepCapabilities = []string{"CAP_NET_RAW"} }, "keepCapabilities", "capabilities", "not root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withHost(t, tc.host)
			c := validConfig()
			tc.mod(c)
			ce := wantConfigError(t, c.Validate(), errcode.LayerUnavailable, tc.key)
			if ce.Layer != tc.layer || !strings.Contains(ce.Message, tc.says) {
				t.Errorf("layer %q message %q, want %q saying %q", ce.Layer, ce.Message, tc.layer, tc.says)
			}
		})
	}
	// Unprivileged, a user namespace makes the other namespaces, chroot and
	// read-only possible.
	withHost(t, fakeHost{notRoot: true})
	c := validConfig()
	c.EnableNamespaces = true
	c.Namespaces = Namespaces{User: true, PID: true, Mount: true, Network: true}
	c.EnableChroot, c.ChrootDirectory = true, "/"
	c.ReadOnlyFilesystem = true
	c.KeepCapabilities = []string{"CAP_NET_ADMIN"}
	if err := c.Validate(); err != nil {
		t.Errorf("unprivileged with namespaces.user: %v", err)
	}
}

// This host: no AppArmor and no SELinux (the CI VM), so enableMAC is refused.
func TestMACRefusedOnThisHost(t *testing.T) {
	if kind, _ := host.mac(); kind != "" {
		if _, err := host.mac(); err == nil {
			t.Skipf("%s is active here", kind)
		}
	}
	c := validConfig()
	c.EnableMAC, c.MacProfile = true, "mcp-child"
	ce := wantConfigError(t, c.Validate(), errcode.LayerUnavailable, "enableMAC")
	if ce.Layer != "mac" || !strings.Contains(ce.Message, "AppArmor") {
		t.Errorf("layer %q message %q", ce.Layer, ce.Message)
	}
}

func TestIsolationContradictions(t *testing.T) {
	withHost(t, fakeHost{})
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		key  string
	}{
		{"enableNamespaces without a namespace", func(c *Config) { c.EnableNamespaces = true }, "namespaces"},
		{"namespaces without enableNamespaces", func(c *Config) { c.Namespaces.IPC = true }, "namespaces"},
		{"unknown capability to drop", func(c *Config) { c.DropCapabilities = []string{"CAP_NET_RAW", "CAP_FLY"} }, "dropCapabilities"},
		{"unknown capability to keep", func(c *Config) { c.KeepCapabilities = []string{"root"} }, "keepCapabilities"},
		{"tmpfsSize without readOnlyFilesystem", func(c *Config) { c.TmpfsSize = 10 }, "tmpfsSize"},
		{"writablePaths alone", func(c *Config) { c.WritablePaths = []string{dir} }, "writablePaths"},
		{"missing writable path", func(c *Config) { c.Landlock = true; c.WritablePaths = []string{dir, dir + "/nope"} }, "writablePaths[1]"},
		{"writable path under /tmp with readOnlyFilesystem", func(c *Config) {
			c.ReadOnlyFilesystem, c.WritablePaths = true, []string{"/tmp/out"}
		}, "writablePaths[0]"},
		{"writable path missing in the jail", func(c *Config) {
			c.EnableChroot, c.ChrootDirectory = true, dir
			c.ReadOnlyFilesystem, c.WritablePaths = true, []string{"/out"}
		}, "writablePaths[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			wantConfigError(t, c.Validate(), errcode.InvalidInput, tc.key)
		})
	}
}

func TestCapabilityMask(t *testing.T) {
	for _, tc := range []struct {
		names []string
		mask  uint64
		bad   string
	}{
		{nil, 0, ""},
		{[]string{"CAP_CHOWN"}, 1, ""},
		{[]string{"cap_net_raw", "NET_BIND_SERVICE"}, 1<<13 | 1<<10, ""},
		{[]string{"CAP_CHECKPOINT_RESTORE"}, 1 << 40, ""},
		{[]string{"ALL"}, 1<<41 - 1, ""},
		{[]string{"CAP_CHOWN", "CAP_NOPE"}, 0, "CAP_NOPE"},
	} {
		m, bad := CapabilityMask(tc.names)
		if m != tc.mask || bad != tc.bad {
			t.Errorf("CapabilityMask(%q) = %#x, %q; want %#x, %q", tc.names, m, bad, tc.mask, tc.bad)
		}
	}
	if n := len(CapabilityNames()); n != 41 {
		t.Errorf("%d capability names, want 41", n)
	}
}

func TestUnavailableLayerKeysMatchesTable(t *testing.T) {
	for l := range builtLayers {
		withLayerUnbuilt(t, l)
	}
	keys := UnavailableLayerKeys()
	if len(keys) != len(layerKeys) {
		t.Fatalf("UnavailableLayerKeys() = %v, want every key of layerKeys while no layer is built", keys)
	}
	for _, lk := range layerKeys {
		if _, ok := keyDocs[lk.key]; !ok {
			t.Errorf("layer key %q is not a config key", lk.key)
		}
		for _, l := range lk.layers {
			if _, ok := builtLayers[l]; !ok {
				t.Errorf("layer %q of key %q has no builtLayers entry", l, lk.key)
			}
		}
	}
}
