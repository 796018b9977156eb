package config

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Enumerated values.
var (
	SeccompProfiles = []string{"strict", "moderate", "permissive"}
	AuditLogLevels  = []string{"debug", "info", "warn", "error"}
	ApprovalModes   = []string{ApprovalModeClient, ApprovalModeURL}
)

// Approval modes (approvalMode, SPEC 7.5).
const (
	ApprovalModeClient = "client"
	ApprovalModeURL    = "url"
)

// layerKey is a key that asks for an enforcement layer. A key whose enabling
// func reports true is refused unless one of its layers is built.
type layerKey struct {
	key      string
	layers   []string
	enabling func(*Config) bool
}

// layerKeys lists every key that enables a layer, in the order they are
// checked (the first refused key is reported).
var layerKeys = []layerKey{
	{"enableChroot", []string{"chroot"}, func(c *Config) bool { return c.EnableChroot }},
	{"enableNamespaces", []string{"namespaces"}, func(c *Config) bool { return c.EnableNamespaces }},
	{"namespaces", []string{"namespaces"}, func(c *Config) bool { return c.Namespaces != Namespaces{} }},
	{"enableSeccomp", []string{"seccomp"}, func(c *Config) bool { return c.EnableSeccomp }},
	{"blockNetworkAccess", []string{"network"}, func(c *Config) bool { return c.BlockNetworkAccess }},
	{"allowedNetworkDestinations", []string{"network"}, func(c *Config) bool { return len(c.AllowedNetworkDestinations) > 0 }},
	{"blockedNetworkDestinations", []string{"network"}, func(c *Config) bool { return len(c.BlockedNetworkDestinations) > 0 }},
	{"requireConfirmation", []string{"approval"}, func(c *Config) bool { return c.RequireConfirmation }},
	{"requireConfirmationFor", []string{"approval"}, func(c *Config) bool { return len(c.RequireConfirmationFor) > 0 }},
	{"requireTerminationConfirmation", []string{"approval"}, func(c *Config) bool { return c.RequireTerminationConfirmation }},
	{"enableMAC", []string{"mac"}, func(c *Config) bool { return c.EnableMAC }},
	{"dropCapabilities", []string{"capabilities"}, func(c *Config) bool { return len(c.DropCapabilities) > 0 }},
	{"keepCapabilities", []string{"capabilities"}, func(c *Config) bool { return len(c.KeepCapabilities) > 0 }},
	{"readOnlyFilesystem", []string{"filesystem"}, func(c *Config) bool { return c.ReadOnlyFilesystem }},
	{"tmpfsSize", []string{"filesystem"}, func(c *Config) bool { return c.TmpfsSize > 0 }},
	{"writablePaths", []string{"filesystem", "landlock"}, func(c *Config) bool { return len(c.WritablePaths) > 0 }},
	{"landlock", []string{"landlock"}, func(c *Config) bool { return c.Landlock }},
}

// builtLayers says which optional enforcement layers this build has. A
// configuration that enables a layer marked false is refused with
// LAYER_UNAVAILABLE; building a layer means flipping its entry here.
var builtLayers = map[string]bool{
	"chroot":       true,
	"namespaces":   true,
	"seccomp":      true,
	"network":      true, // blockNetworkAccess, allowed/blockedNetworkDestinations (the proxy is the server's EgressServer)
	"approval":     true,
	"mac":          true,
	"capabilities": true,
	"filesystem":   true, // readOnlyFilesystem, tmpfsSize, writablePaths
	"landlock":     true,
}

// LayerBuilt reports whether the named optional layer is built into this
// binary (see builtLayers). Unknown names report false.
func LayerBuilt(layer string) bool { return builtLayers[layer] }

// UnavailableLayerKeys lists the keys that are refused when set to an
// enabling value because their layer is not built.
func UnavailableLayerKeys() []string {
	var keys []string
	for _, lk := range layerKeys {
		if !anyBuilt(lk.layers) {
			keys = append(keys, lk.key)
		}
	}
	return keys
}

func anyBuilt(layers []string) bool {
	for _, l := range layers {
		if builtLayers[l] {
			return true
		}
	}
	return false
}

// Validate checks c and returns the first problem as an *Error, or nil:
// layers that are not built (LAYER_UNAVAILABLE), then bad values (enums,
// negative numbers, relative paths, invalid regexes, URLs, zones, agents),
// then contradictions (SPEC 6). It does not lower defaults above their
// maximum (Load does that for defaults the document did not set), so here
// every default above its maximum is a contradiction.
func (c *Config) Validate() error {
	for _, check := range []func(*Config) *Error{checkLayers, checkHost, checkValues, checkContradictions, checkIsolation} {
		if e := check(c); e != nil {
			return e
		}
	}
	return nil
}

func checkLayers(c *Config) *Error {
	for _, lk := range layerKeys {
		if lk.enabling(c) && !anyBuilt(lk.layers) {
			return &Error{
				Key:     lk.key,
				Message: fmt.Sprintf("%s asks for the %s layer, which is not available in this build", lk.key, lk.layers[0]),
				Remedy:  fmt.Sprintf("remove %q from the configuration or set it to false/empty", lk.key),
				Code:    errcode.LayerUnavailable,
				Layer:   lk.layers[0],
			}
		}
	}
	return nil
}

func nonNegative(key string, v int64) *Error {
	if v < 0 {
		return invalid(key, "use 0 or a positive number", "must not be negative (got %d)", v)
	}
	return nil
}

func atLeastOne(key string, v int64) *Error {
	if v < 1 {
		return invalid(key, "use a positive number", "must be at least 1 (got %d)", v)
	}
	return nil
}

func absPaths(key string, paths []string) *Error {
	for i, p := range paths {
		k := fmt.Sprintf("%s[%d]", key, i)
		if p == "" || !filepath.IsAbs(p) {
			return invalid(k, "use an absolute path such as /srv/work", "%q is not an absolute path", p)
		}
		if strings.ContainsRune(p, 0) {
			return invalid(k, "remove the NUL byte", "the path contains a NUL byte")
		}
	}
	return nil
}

func absPath(key, p string) *Error {
	if p != "" && (!filepath.IsAbs(p) || strings.ContainsRune(p, 0)) {
		return invalid(key, "use an absolute path", "%q is not an absolute path", p)
	}
	return nil
}

func envNames(key string, names []string) *Error {
	for i, n := range names {
		if n == "" || strings.ContainsAny(n, "=\x00") {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "use a plain variable name such as NODE_ENV", "%q is not a valid environment variable name", n)
		}
	}
	return nil
}

func oneOf(key, v string, allowed []string) *Error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return invalid(key, fmt.Sprintf("use one of %s", strings.Join(allowed, ", ")), "%q is not a valid value", v)
}

func isGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

func checkValues(c *Config) *Error {
	type check func() *Error
	limits := func(key string, r ResourceLimits) *Error {
		if !(r.MaxCpuPercent >= 0) {
			return invalid(key+".maxCpuPercent", "use 0 (no limit) or a positive number", "must not be negative (got %v)", r.MaxCpuPercent)
		}
		for _, f := range []struct {
			n string
			v int64
		}{{"maxMemoryMB", r.MaxMemoryMB}, {"maxFileDescriptors", r.MaxFileDescriptors}, {"maxCpuTime", r.MaxCpuTime}, {"maxProcesses", r.MaxProcesses}} {
			if e := nonNegative(key+"."+f.n, f.v); e != nil {
				return e
			}
		}
		return nil
	}
	checks := []check{
		// 3.1 Executables
		func() *Error {
			for i, e := range c.AllowedExecutables {
				k := fmt.Sprintf("allowedExecutables[%d]", i)
				if e == "" || strings.ContainsRune(e, 0) {
					return invalid(k, "give a name (node), an absolute path (/usr/bin/node) or a glob", "%q is not a valid executable entry", e)
				}
				if strings.Contains(e, "/") && !filepath.IsAbs(e) {
					return invalid(k, "use a bare name (matched against the basename) or an absolute path", "%q is a relative path; it can never match a resolved executable", e)
				}
				if _, err := filepath.Match(e, ""); err != nil {
					return invalid(k, "fix the glob pattern", "%q is not a valid glob: %v", e, err)
				}
			}
			return nil
		},
		func() *Error {
			for i, e := range c.AdditionalBlockedExecutables {
				if e == "" || strings.ContainsRune(e, 0) || (strings.Contains(e, "/") && !filepath.IsAbs(e)) {
					return invalid(fmt.Sprintf("additionalBlockedExecutables[%d]", i), "give an executable name such as curl", "%q is not a valid executable name", e)
				}
			}
			return nil
		},
		func() *Error {
			if c.ExecutablePolicyScope == "" {
				return nil // not resolved yet (Load resolves it): treated as "launch"
			}
			return oneOf("executablePolicyScope", c.ExecutablePolicyScope, []string{ScopeTree, ScopeLaunch})
		},
		func() *Error {
			for i, e := range c.HelperExecutables {
				k := fmt.Sprintf("helperExecutables[%d]", i)
				if e == "" || strings.ContainsRune(e, 0) || !filepath.IsAbs(e) {
					return invalid(k, "give an absolute path (/usr/lib/git-core/git-remote-https) or an absolute glob (/opt/tools/bin/*)", "%q is not an absolute path", e)
				}
				if _, err := filepath.Match(e, ""); err != nil {
					return invalid(k, "fix the glob pattern (path.Match syntax: * ? [a-z])", "%q is not a valid glob: %v", e, err)
				}
			}
			return nil
		},
		func() *Error {
			if c.SearchPath == "" {
				return invalid("searchPath", "use a PATH-style list of absolute directories such as "+DefaultSearchPath, "must not be empty")
			}
			for _, d := range strings.Split(c.SearchPath, ":") {
				if !filepath.IsAbs(d) {
					return invalid("searchPath", "list only absolute directories, separated by ':' (an empty entry would mean the current directory)", "entry %q is not an absolute directory", d)
				}
			}
			return nil
		},
		// 3.2 Arguments
		func() *Error { return nonNegative("maxArgumentCount", int64(c.MaxArgumentCount)) },
		func() *Error { return nonNegative("maxArgumentLength", int64(c.MaxArgumentLength)) },
		func() *Error {
			for i, p := range c.BlockedArgumentPatterns {
				if _, err := regexp.Compile(p); err != nil {
					return invalid(fmt.Sprintf("blockedArgumentPatterns[%d]", i), "write a valid Go RE2 regular expression", "%q is not a valid regular expression: %v", p, err)
				}
			}
			return nil
		},
		// 3.3 Environment
		func() *Error { return envNames("additionalBlockedEnvVars", c.AdditionalBlockedEnvVars) },
		func() *Error { return envNames("allowedEnvVars", c.AllowedEnvVars) },
		func() *Error { return nonNegative("maxEnvVarCount", int64(c.MaxEnvVarCount)) },
		func() *Error { return envNames("inheritEnvVars", c.InheritEnvVars) },
		// 3.4 Working directory
		func() *Error { return absPaths("allowedWorkingDirectories", c.AllowedWorkingDirectories) },
		func() *Error { return absPaths("blockedWorkingDirectories", c.BlockedWorkingDirectories) },
		// 3.5 Resource limits
		func() *Error { return limits("defaultResourceLimits", c.DefaultResourceLimits) },
		func() *Error { return limits("maximumResourceLimits", c.MaximumResourceLimits) },
		// 3.6 Process limits
		func() *Error { return nonNegative("maxConcurrentProcesses", int64(c.MaxConcurrentProcesses)) },
		func() *Error {
			return nonNegative("maxConcurrentProcessesPerAgent", int64(c.MaxConcurrentProcessesPerAgent))
		},
		func() *Error { return atLeastOne("maxProcessLifetime", c.MaxProcessLifetime) },
		func() *Error { return nonNegative("maxTotalProcesses", int64(c.MaxTotalProcesses)) },
		func() *Error { return nonNegative("exitedRetentionSeconds", c.ExitedRetentionSeconds) },
		// 3.7 Rate limiting
		func() *Error { return nonNegative("maxLaunchesPerMinute", int64(c.MaxLaunchesPerMinute)) },
		func() *Error { return nonNegative("maxLaunchesPerHour", int64(c.MaxLaunchesPerHour)) },
		func() *Error { return nonNegative("rateLimitCooldownSeconds", c.RateLimitCooldownSeconds) },
		// 3.9 I/O
		func() *Error { return atLeastOne("maxOutputBufferSize", c.MaxOutputBufferSize) },
		func() *Error { return atLeastOne("maxRetainedOutputBytes", c.MaxRetainedOutputBytes) },
		func() *Error { return atLeastOne("httpSessionIdleSeconds", c.HTTPSessionIdleSeconds) },
		// 3.10 Isolation
		func() *Error { return absPath("chrootDirectory", c.ChrootDirectory) },
		func() *Error {
			if c.SeccompProfile == "" {
				if c.EnableSeccomp {
					return invalid("seccompProfile", "set seccompProfile to strict, moderate or permissive", "is required when enableSeccomp is true")
				}
				return nil
			}
			return oneOf("seccompProfile", c.SeccompProfile, SeccompProfiles)
		},
		// 3.11 Network
		func() *Error { return networkEntries("allowedNetworkDestinations", c.AllowedNetworkDestinations) },
		func() *Error { return networkEntries("blockedNetworkDestinations", c.BlockedNetworkDestinations) },
		// 3.12 Audit and alerts
		func() *Error {
			if c.EnableAuditLog && c.AuditLogPath == "" {
				return invalid("auditLogPath", "set auditLogPath to an absolute file path (no default: neither XDG_STATE_HOME nor HOME is set)", "is required when enableAuditLog is true")
			}
			return absPath("auditLogPath", c.AuditLogPath)
		},
		func() *Error { return oneOf("auditLogLevel", c.AuditLogLevel, AuditLogLevels) },
		func() *Error { return absPath("securityViolationLogPath", c.SecurityViolationLogPath) },
		func() *Error {
			if c.SecurityAlertWebhook == "" {
				if c.SecurityAlertWebhookSecret != "" {
					return invalid("securityAlertWebhookSecret", "set securityAlertWebhook, or remove securityAlertWebhookSecret", "is set but securityAlertWebhook is not: the secret would sign nothing")
				}
				return nil
			}
			u, err := url.Parse(c.SecurityAlertWebhook)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return invalid("securityAlertWebhook", "use an http:// or https:// URL such as https://alerts.example.com/webhook", "%q is not an http(s) URL", c.SecurityAlertWebhook)
			}
			// Without securityAlertWebhookSecret alerts go out unsigned (the
			// seed's configs have no secret; drop-in compatibility). The
			// server warns at start.
			return nil
		},
		// 3.13 Confirmation
		func() *Error { return nonEmptyEntries("requireConfirmationFor", c.RequireConfirmationFor) },
		func() *Error { return nonNegative("autoApproveAfterCount", int64(c.AutoApproveAfterCount)) },
		func() *Error { return atLeastOne("confirmationTimeoutSeconds", c.ConfirmationTimeoutSeconds) },
		func() *Error { return checkApproval(c) },
		// 3.14 Time windows (syntax is checked by the policy package)
		func() *Error { return nonEmptyEntries("allowedTimeWindows", c.AllowedTimeWindows) },
		func() *Error { return nonEmptyEntries("blockedTimeWindows", c.BlockedTimeWindows) },
		func() *Error {
			if c.TimeZone == "" {
				return nil
			}
			if _, err := time.LoadLocation(c.TimeZone); err != nil {
				return invalid("timeZone", "use an IANA zone name such as Europe/Paris or UTC", "%q is not a known time zone: %v", c.TimeZone, err)
			}
			return nil
		},
		// 3.15 Advanced
		func() *Error {
			if c.EnableMAC && c.MacProfile == "" {
				return invalid("macProfile", "name the AppArmor profile or SELinux context", "is required when enableMAC is true")
			}
			return nil
		},
		func() *Error { return nonEmptyEntries("dropCapabilities", c.DropCapabilities) },
		func() *Error { return nonEmptyEntries("keepCapabilities", c.KeepCapabilities) },
		func() *Error { return nonNegative("tmpfsSize", c.TmpfsSize) },
		func() *Error { return absPaths("writablePaths", c.WritablePaths) },
		func() *Error { return absPaths("hiddenPaths", c.HiddenPaths) },
		// 4 Identity
		func() *Error {
			ids := map[string]int{}
			tokens := map[string]int{}
			for i, a := range c.Agents {
				if strings.TrimSpace(a.ID) == "" {
					return invalid(fmt.Sprintf("agents[%d].id", i), "give every agent a non-empty id", "the agent id is empty")
				}
				if j, dup := ids[a.ID]; dup {
					return invalid(fmt.Sprintf("agents[%d].id", i), "give every agent a distinct id", "agent id %q is also used by agents[%d]", a.ID, j)
				}
				ids[a.ID] = i
				if len(a.TokenSha256) != 64 {
					return invalid(fmt.Sprintf("agents[%d].tokenSha256", i), "set the hex SHA-256 of the token (64 hex characters, e.g. from `printf %s TOKEN | sha256sum`)", "must be 64 hex characters (got %d characters)", len(a.TokenSha256))
				}
				if _, err := hex.DecodeString(a.TokenSha256); err != nil {
					return invalid(fmt.Sprintf("agents[%d].tokenSha256", i), "set the hex SHA-256 of the token (64 hex characters)", "is not hexadecimal")
				}
				t := strings.ToLower(a.TokenSha256)
				if j, dup := tokens[t]; dup {
					return invalid(fmt.Sprintf("agents[%d].tokenSha256", i), "give every agent its own token", "the same token is used by agents[%d]", j)
				}
				tokens[t] = i
			}
			return nil
		},
	}
	for _, ch := range checks {
		if e := ch(); e != nil {
			return e
		}
	}
	return nil
}

func nonEmptyEntries(key string, list []string) *Error {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "remove the empty entry", "the entry is empty")
		}
	}
	return nil
}

func checkContradictions(c *Config) *Error {
	blockedExtra := map[string]bool{}
	for _, b := range c.AdditionalBlockedExecutables {
		blockedExtra[strings.ToLower(filepath.Base(b))] = true
	}
	for i, e := range c.AllowedExecutables {
		if isGlob(e) {
			continue
		}
		k := fmt.Sprintf("allowedExecutables[%d]", i)
		name := filepath.Base(e)
		if IsAlwaysBlockedExecutable(name) {
			return invalid(k, fmt.Sprintf("remove %q from allowedExecutables", e), "%q is always blocked (privilege/system tool or exec wrapper) and can never run, so allowing it contradicts the built-in blocklist", e)
		}
		if c.BlockShellInterpreters && IsShell(name) {
			return invalid(k, fmt.Sprintf("remove %q from allowedExecutables, or set blockShellInterpreters to false", e), "%q is a shell interpreter, and blockShellInterpreters is true", e)
		}
		if blockedExtra[strings.ToLower(name)] {
			return invalid(k, fmt.Sprintf("remove %q from either allowedExecutables or additionalBlockedExecutables", name), "%q is both in allowedExecutables and in additionalBlockedExecutables", e)
		}
	}
	for i, e := range c.HelperExecutables {
		if isGlob(e) {
			continue // what a glob matches is filtered when the list is built
		}
		k := fmt.Sprintf("helperExecutables[%d]", i)
		name := filepath.Base(e)
		if IsAlwaysBlockedExecutable(name) {
			return invalid(k, fmt.Sprintf("remove %q from helperExecutables", e), "%q is always blocked and is never exec-able, not even inside a tree", e)
		}
		if c.BlockShellInterpreters && IsShell(name) {
			return invalid(k, fmt.Sprintf("remove %q from helperExecutables, or set blockShellInterpreters to false (then /bin/sh is a helper by itself)", e), "%q is a shell interpreter, and blockShellInterpreters is true", e)
		}
		if blockedExtra[strings.ToLower(name)] {
			return invalid(k, fmt.Sprintf("remove %q from either helperExecutables or additionalBlockedExecutables", name), "%q is both in helperExecutables and in additionalBlockedExecutables", e)
		}
	}
	if len(c.HelperExecutables) > 0 && c.ExecutablePolicyScope == ScopeLaunch && c.scopeFallback == "" {
		return invalid("helperExecutables", "remove helperExecutables, or set executablePolicyScope to \"tree\"",
			"helperExecutables only matters with executablePolicyScope \"tree\", and it is \"launch\"")
	}
	blockedEnv := map[string]bool{}
	for _, n := range c.AdditionalBlockedEnvVars {
		blockedEnv[strings.ToUpper(n)] = true
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"allowedEnvVars", c.AllowedEnvVars}, {"inheritEnvVars", c.InheritEnvVars}} {
		for i, n := range list.names {
			k := fmt.Sprintf("%s[%d]", list.key, i)
			if IsAlwaysBlockedEnvVar(n) {
				return invalid(k, fmt.Sprintf("remove %q from %s", n, list.key), "%q is an always-blocked environment variable and can never be set, so listing it in %s is a contradiction", n, list.key)
			}
			if blockedEnv[strings.ToUpper(n)] {
				return invalid(k, fmt.Sprintf("remove %q from either %s or additionalBlockedEnvVars", n, list.key), "%q is both in %s and in additionalBlockedEnvVars", n, list.key)
			}
		}
	}
	for _, f := range limitFields {
		d, m := f.get(&c.DefaultResourceLimits), f.get(&c.MaximumResourceLimits)
		if m > 0 && d > m {
			return invalid("defaultResourceLimits."+f.name,
				fmt.Sprintf("lower defaultResourceLimits.%s to at most %v, or raise maximumResourceLimits.%s", f.name, m, f.name),
				"the default %v is above maximumResourceLimits.%s (%v)", d, f.name, m)
		}
	}
	if c.EnableChroot {
		if c.ChrootDirectory == "" {
			// SPEC 7.3: the profiles' jail (the seed named /var/sandbox and
			// /ci/sandbox, which a stock host lacks) is one composed at
			// launch from the host's system directories. Not built: refused
			// rather than dropped.
			return &Error{Key: "chrootDirectory", Code: errcode.LayerUnavailable, Layer: "chroot",
				Message: "enableChroot is true without chrootDirectory, which asks for a jail composed at launch (the host's /usr, /lib*, /bin, /sbin and /etc read-only, plus the working directory); this build cannot compose one",
				Remedy:  "set chrootDirectory to a prepared jail (a directory holding the allowed tools and their libraries), or set enableChroot to false (e.g. a --config file {\"enableChroot\": false} over the profile)"}
		}
		if fi, err := os.Stat(c.ChrootDirectory); err != nil || !fi.IsDir() {
			return invalid("chrootDirectory", "create the directory (with what the jailed programs need), or set enableChroot to false", "enableChroot is true but chrootDirectory %q is not an existing directory", c.ChrootDirectory)
		}
	}
	return nil
}

// capabilityNames are the Linux capabilities, indexed by number
// (linux/capability.h, up to CAP_CHECKPOINT_RESTORE = 40).
var capabilityNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapabilityNames returns the capability names this build knows, in
// number order.
func CapabilityNames() []string { return append([]string(nil), capabilityNames...) }

// CapabilityMask turns capability names ("CAP_NET_RAW", case-insensitive,
// the CAP_ prefix optional, or "ALL") into a bit mask (bit N =
// capability N). It returns the first unknown name.
func CapabilityMask(names []string) (mask uint64, unknown string) {
	for _, n := range names {
		u := strings.ToUpper(strings.TrimSpace(n))
		if u == "ALL" {
			mask |= 1<<len(capabilityNames) - 1
			continue
		}
		if !strings.HasPrefix(u, "CAP_") {
			u = "CAP_" + u
		}
		i := slices.Index(capabilityNames, u)
		if i < 0 {
			return 0, n
		}
		mask |= 1 << i
	}
	return mask, ""
}

// hostProbe answers what checkHost asks the running kernel (a fake in tests).
type hostProbe interface {
	root() bool
	uid() int
	gid() int
	namespace(name string) error // "pid", "network", "mount", "uts", "ipc", "user"
	mountSetattr() error
	seccomp() error
	landlock() (abi int, err error)
	mac() (kind string, err error)
}

func unavailable(key, layer, remedy, format string, a ...any) *Error {
	return &Error{Key: key, Message: key + ": " + fmt.Sprintf(format, a...), Remedy: remedy, Code: errcode.LayerUnavailable, Layer: layer}
}

// checkHost refuses a layer that is built but that this host cannot
// enforce (SPEC 6, "Unavailable layers"): fail closed at start.
func checkHost(c *Config) *Error {
	userNS := c.EnableNamespaces && c.Namespaces.User
	if c.EnableNamespaces {
		for _, n := range []struct {
			name string
			on   bool
		}{{"user", c.Namespaces.User}, {"pid", c.Namespaces.PID}, {"network", c.Namespaces.Network},
			{"mount", c.Namespaces.Mount}, {"uts", c.Namespaces.UTS}, {"ipc", c.Namespaces.IPC}} {
			if !n.on {
				continue
			}
			key := "namespaces." + n.name
			if err := host.namespace(n.name); err != nil {
				return unavailable(key, "namespaces", "set "+key+" to false", "%v", err)
			}
			if n.name != "user" && !userNS && !host.root() {
				return unavailable(key, "namespaces", "run the server as root, or also set namespaces.user to true",
					"creating a %s namespace needs CAP_SYS_ADMIN: the server is not root and namespaces.user is false", n.name)
			}
		}
	}
	needsMounts := []struct {
		key string
		on  bool
	}{{"enableChroot", c.EnableChroot}, {"readOnlyFilesystem", c.ReadOnlyFilesystem}}
	for _, m := range needsMounts {
		if m.on && !userNS && !host.root() {
			return unavailable(m.key, map[string]string{"enableChroot": "chroot", "readOnlyFilesystem": "filesystem"}[m.key],
				"run the server as root, or enable namespaces.user (with enableNamespaces)",
				"needs a private mount namespace (CAP_SYS_ADMIN): the server is not root and namespaces.user is off")
		}
	}
	if c.ReadOnlyFilesystem {
		if err := host.mountSetattr(); err != nil {
			return unavailable("readOnlyFilesystem", "filesystem", "set readOnlyFilesystem to false, or use Linux 5.12 or later", "%v", err)
		}
	}
	if len(c.KeepCapabilities) > 0 && !userNS && !host.root() {
		return unavailable("keepCapabilities", "capabilities", "remove keepCapabilities, or run the server as root",
			"the server is not root, so its children have no capability to keep")
	}
	if c.EnableSeccomp {
		if err := host.seccomp(); err != nil {
			return unavailable("enableSeccomp", "seccomp", "set enableSeccomp to false", "%v", err)
		}
	}
	if c.Landlock {
		if _, err := host.landlock(); err != nil {
			return unavailable("landlock", "landlock", "set landlock to false, or enable Landlock in the kernel (Linux 5.13+, lsm=...,landlock)", "%v", err)
		}
	}
	if c.ExecutablePolicyScope == ScopeTree {
		if _, err := host.landlock(); err != nil {
			return unavailable("executablePolicyScope", "landlock",
				"set executablePolicyScope to \"launch\" (children may then exec any file they can reach), or enable Landlock in the kernel (Linux 5.13+, lsm=...,landlock)",
				"\"tree\" needs Landlock to restrict what every process of a tree may exec: %v", err)
		}
	}
	if c.EnableMAC {
		if _, err := host.mac(); err != nil {
			return unavailable("enableMAC", "mac", "set enableMAC to false, or run the server on a host where AppArmor or SELinux is active", "%v", err)
		}
	}
	return nil
}

// checkIsolation refuses isolation keys that would do nothing or name
// what does not exist.
func checkIsolation(c *Config) *Error {
	if _, e := c.Identity(); e != nil {
		return e
	}
	if c.EnableNamespaces && c.Namespaces == (Namespaces{}) {
		return invalid("namespaces", "set the namespaces you want (namespaces.pid, .network, .mount, .uts, .ipc, .user) to true, or set enableNamespaces to false",
			"enableNamespaces is true but no namespace is selected")
	}
	if !c.EnableNamespaces && c.Namespaces != (Namespaces{}) {
		return invalid("namespaces", "set enableNamespaces to true, or set every member of namespaces to false",
			"namespaces selects namespaces but enableNamespaces is false: they would not be created")
	}
	for _, l := range []struct {
		key   string
		names []string
	}{{"dropCapabilities", c.DropCapabilities}, {"keepCapabilities", c.KeepCapabilities}} {
		if _, bad := CapabilityMask(l.names); bad != "" {
			return invalid(l.key, "use capability names such as CAP_NET_BIND_SERVICE (see capabilities(7)), or ALL",
				"%q is not a capability name", bad)
		}
	}
	if c.TmpfsSize > 0 && !c.ReadOnlyFilesystem {
		return invalid("tmpfsSize", "set readOnlyFilesystem to true, or remove tmpfsSize",
			"tmpfsSize sizes the private /tmp of readOnlyFilesystem, which is false")
	}
	if len(c.WritablePaths) > 0 && !c.ReadOnlyFilesystem && !c.Landlock {
		return invalid("writablePaths", "set readOnlyFilesystem or landlock to true, or remove writablePaths",
			"writablePaths only matters with readOnlyFilesystem or landlock, and both are false")
	}
	for i, p := range c.WritablePaths {
		if c.ReadOnlyFilesystem && (p == "/tmp" || strings.HasPrefix(p, "/tmp/")) {
			return invalid(fmt.Sprintf("writablePaths[%d]", i), "remove it: /tmp is already writable (the private tmpfs), or use a path outside /tmp",
				"%q is beneath /tmp, which readOnlyFilesystem replaces with a private tmpfs: it would be hidden", p)
		}
		onHost := p
		if c.EnableChroot && c.ChrootDirectory != "" {
			onHost = filepath.Join(c.ChrootDirectory, p)
		}
		if _, err := os.Stat(onHost); err != nil {
			return invalid(fmt.Sprintf("writablePaths[%d]", i), "create it, or remove it from writablePaths",
				"%q does not exist (%s)", p, onHost)
		}
		// Every launch opens the writable paths refusing symbolic links (a
		// link planted by a child must not redirect write access), so a
		// path through a link could never work: say so now.
		if !c.EnableChroot {
			if real, err := filepath.EvalSymlinks(onHost); err == nil && real != filepath.Clean(onHost) {
				return invalid(fmt.Sprintf("writablePaths[%d]", i), "list the real path "+real+" instead",
					"%q is or passes through a symbolic link (to %s)", p, real)
			}
		}
	}
	return nil
}
