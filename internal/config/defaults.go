package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"

	json "github.com/go-json-experiment/json"
)

// Built-in defaults that other packages need by name.
const (
	DefaultSearchPath             = "/usr/local/bin:/usr/bin:/bin"
	DefaultMaxOutputBufferSize    = 10 << 20  // 10 MiB per stream
	DefaultMaxRetainedOutputBytes = 256 << 20 // 256 MiB for the whole server
	DefaultAuditLogLevel          = "info"
	DefaultSecurityViolationsFile = "security-violations.log"
	// Redacted replaces secrets in Redacted().
	RedactedValue = "[redacted]"
)

// Defaults returns the built-in per-key defaults (SPEC 6), with the audit log
// under $XDG_STATE_HOME (else $HOME/.local/state). allowedExecutables is
// empty: nothing may run until the configuration allows it.
// securityViolationLogPath is left empty here and resolved by Load to a file
// beside the audit log.
func Defaults() *Config { return defaults(os.Getenv) }

func defaults(getenv func(string) string) *Config {
	return &Config{
		AllowedExecutables:     []string{},
		BlockSetuidExecutables: true,
		BlockShellInterpreters: true,
		SearchPath:             DefaultSearchPath,

		MaxArgumentCount:       100,
		MaxArgumentLength:      4096,
		BlockInjectionPatterns: true,

		MaxEnvVarCount: 50,

		DefaultResourceLimits: ResourceLimits{
			MaxCpuPercent:      80,
			MaxMemoryMB:        1024,
			MaxFileDescriptors: 1024,
			MaxCpuTime:         300,
			MaxProcesses:       10,
		},

		MaxConcurrentProcesses: 10,
		MaxProcessLifetime:     3600,
		ExitedRetentionSeconds: 600,

		MaxLaunchesPerMinute:     10,
		RateLimitCooldownSeconds: 60,

		AllowProcessTermination: true,
		AllowGroupTermination:   true,
		AllowForcedTermination:  true,

		AllowStdinInput:        true,
		AllowOutputCapture:     true,
		MaxOutputBufferSize:    DefaultMaxOutputBufferSize,
		MaxRetainedOutputBytes: DefaultMaxRetainedOutputBytes,
		HTTPSessionIdleSeconds: 600,

		EnableAuditLog: true,
		AuditLogPath:   DefaultAuditLogPath(getenv),
		AuditLogLevel:  DefaultAuditLogLevel,

		ConfirmationTimeoutSeconds: 120,
		ApprovalMode:               ApprovalModeClient,
	}
}

// DefaultAuditLogPath is $XDG_STATE_HOME/mcp-process/audit.log, else
// $HOME/.local/state/mcp-process/audit.log; relative values of those
// variables are ignored (XDG Base Directory rules). It is "" when neither
// gives an absolute directory.
func DefaultAuditLogPath(getenv func(string) string) string {
	if d := DefaultStateDir(getenv); d != "" {
		return filepath.Join(d, "audit.log")
	}
	return ""
}

// DefaultStateDir is the server's state directory: $XDG_STATE_HOME/mcp-process,
// else $HOME/.local/state/mcp-process; relative values of those variables are
// ignored (XDG Base Directory rules). It is "" when neither gives an
// absolute directory.
func DefaultStateDir(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mcp-process")
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "mcp-process")
	}
	return ""
}

// The seed's three example configurations (ENTERPRISE-SECURITY.md, "Example
// Configurations"), laid over Defaults() by Profile, with no directory a
// stock host lacks (SPEC 7.3): allowedWorkingDirectories (the seed's
// /app/sandbox, /home/user/projects, /ci/workspace) is left out, so Load
// fills in the directory the server was started in; chrootDirectory (the
// seed's /var/sandbox, /ci/sandbox) is left out, so enableChroot asks for a
// jail composed at launch from the host's system directories (read-only)
// and the working directories (ComposedJail); the cicd window
// "* 00:00-23:59" is the whole day, "* 00:00-24:00".
var profileDocs = map[string]string{
	"maximum": `{
  "allowedExecutables": ["node"],
  "blockSetuidExecutables": true,
  "blockShellInterpreters": true,
  "maxArgumentCount": 10,
  "maxArgumentLength": 500,
  "allowedEnvVars": ["NODE_ENV"],
  "defaultResourceLimits": {
    "maxCpuPercent": 25,
    "maxMemoryMB": 256,
    "maxFileDescriptors": 50,
    "maxCpuTime": 60
  },
  "maxConcurrentProcesses": 1,
  "maxConcurrentProcessesPerAgent": 1,
  "maxProcessLifetime": 300,
  "maxLaunchesPerMinute": 5,
  "allowProcessTermination": true,
  "allowGroupTermination": false,
  "allowForcedTermination": false,
  "allowStdinInput": false,
  "allowOutputCapture": true,
  "maxOutputBufferSize": 1048576,
  "enableChroot": true,
  "enableNamespaces": true,
  "namespaces": {
    "pid": true,
    "network": true,
    "mount": true,
    "uts": true,
    "ipc": true,
    "user": true
  },
  "enableSeccomp": true,
  "seccompProfile": "strict",
  "blockNetworkAccess": true,
  "enableAuditLog": true,
  "enableSecurityAlerts": true,
  "requireConfirmation": true,
  "readOnlyFilesystem": true
}`,
	"development": `{
  "allowedExecutables": ["node", "npm", "git", "python3", "pip3"],
  "blockSetuidExecutables": true,
  "blockShellInterpreters": true,
  "defaultResourceLimits": {
    "maxCpuPercent": 80,
    "maxMemoryMB": 2048,
    "maxCpuTime": 600,
    "maxProcesses": 128
  },
  "maxConcurrentProcesses": 10,
  "maxProcessLifetime": 3600,
  "maxLaunchesPerMinute": 20,
  "allowProcessTermination": true,
  "allowGroupTermination": true,
  "allowForcedTermination": true,
  "allowStdinInput": true,
  "allowOutputCapture": true,
  "enableAuditLog": true,
  "requireConfirmation": false
}`,
	"cicd": `{
  "allowedExecutables": ["node", "npm", "yarn", "git", "docker", "kubectl"],
  "blockSetuidExecutables": true,
  "blockShellInterpreters": false,
  "defaultResourceLimits": {
    "maxCpuPercent": 90,
    "maxMemoryMB": 4096,
    "maxCpuTime": 1800,
    "maxProcesses": 256
  },
  "maxConcurrentProcesses": 20,
  "maxProcessLifetime": 7200,
  "allowProcessTermination": true,
  "allowGroupTermination": true,
  "allowForcedTermination": true,
  "enableChroot": true,
  "enableNamespaces": true,
  "enableAuditLog": true,
  "allowedTimeWindows": ["* 00:00-24:00"]
}`,
}

// ProfileNames lists the built-in presets, sorted.
func ProfileNames() []string {
	names := make([]string, 0, len(profileDocs))
	for n := range profileDocs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Profile returns the named preset ("maximum", "development", "cicd"): the
// seed's example configuration laid over Defaults(). It is not validated:
// "maximum" and "cicd" ask for layers (chroot, namespaces, ...) that Load
// refuses while they are not available.
func Profile(name string) (*Config, error) { return profile(name, os.Getenv) }

func profile(name string, getenv func(string) string) (*Config, error) {
	doc, ok := profileDocs[name]
	if !ok {
		return nil, invalid("profile", fmt.Sprintf("use one of %v", ProfileNames()), "unknown profile %q", name)
	}
	c := defaults(getenv)
	if _, err := Decode([]byte(doc), c); err != nil {
		return nil, fmt.Errorf("built-in profile %q: %w", name, err)
	}
	return c, nil
}

// BuiltinDefault is the configuration used when there is no configuration
// at all (SPEC 1): the development preset with allowedWorkingDirectories set
// to cwd (the directory the server was started in; Load refuses "/"). It
// asks for no layer that needs privileges.
func BuiltinDefault(cwd string) *Config { return builtinDefault(cwd, os.Getenv) }

func builtinDefault(cwd string, getenv func(string) string) *Config {
	c, err := profile("development", getenv)
	if err != nil {
		panic(err) // the built-in document is tested
	}
	c.AllowedWorkingDirectories = []string{cwd}
	return c
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	if c == nil {
		return nil
	}
	d := *c
	d.AllowedExecutables = slices.Clone(c.AllowedExecutables)
	d.AdditionalBlockedExecutables = slices.Clone(c.AdditionalBlockedExecutables)
	d.HelperExecutables = slices.Clone(c.HelperExecutables)
	d.BlockedArgumentPatterns = slices.Clone(c.BlockedArgumentPatterns)
	d.AdditionalBlockedEnvVars = slices.Clone(c.AdditionalBlockedEnvVars)
	d.AllowedEnvVars = slices.Clone(c.AllowedEnvVars)
	d.InheritEnvVars = slices.Clone(c.InheritEnvVars)
	d.AllowedWorkingDirectories = slices.Clone(c.AllowedWorkingDirectories)
	d.BlockedWorkingDirectories = slices.Clone(c.BlockedWorkingDirectories)
	d.AllowedNetworkDestinations = slices.Clone(c.AllowedNetworkDestinations)
	d.BlockedNetworkDestinations = slices.Clone(c.BlockedNetworkDestinations)
	d.RequireConfirmationFor = slices.Clone(c.RequireConfirmationFor)
	d.AllowedTimeWindows = slices.Clone(c.AllowedTimeWindows)
	d.BlockedTimeWindows = slices.Clone(c.BlockedTimeWindows)
	d.DropCapabilities = slices.Clone(c.DropCapabilities)
	d.KeepCapabilities = slices.Clone(c.KeepCapabilities)
	d.WritablePaths = slices.Clone(c.WritablePaths)
	d.HiddenPaths = slices.Clone(c.HiddenPaths)
	d.Agents = slices.Clone(c.Agents)
	return &d
}

// Redacted returns a copy of c safe to show (process_get_policy, the
// config_loaded audit record, `validate` output): securityAlertWebhookSecret
// and every agents[].tokenSha256 are replaced by "[redacted]".
func (c *Config) Redacted() *Config {
	d := c.Clone()
	if d == nil {
		return nil
	}
	if d.SecurityAlertWebhookSecret != "" {
		d.SecurityAlertWebhookSecret = RedactedValue
	}
	for i := range d.Agents {
		d.Agents[i].TokenSha256 = RedactedValue
	}
	if d.ApproverTokenSha256 != "" {
		d.ApproverTokenSha256 = RedactedValue
	}
	return d
}

// MarshalJSON encodes c with every key present and empty arrays as [] (never
// null), whichever JSON package calls it, so the output (e.g. `mcp-process
// validate`, process_get_policy) loads back through Decode unchanged.
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config // no methods: no recursion
	return json.Marshal(plain(c))
}
