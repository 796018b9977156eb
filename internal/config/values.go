package config

// The value checks of Validate (one named check per SPEC section, in
// valueChecks) and the helpers they share. Contradictions between keys and
// what the host can enforce are in validate.go and host_*.go.

import (
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

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

// IsGlob says whether an executable entry is a glob: it holds a character
// that path.Match treats specially (* ? [ or the escape \). The policy
// matches entries with path.Match, so this is the one definition.
func IsGlob(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// ArgumentPattern compiles a blockedArgumentPatterns entry as the policy
// matches it: against each whole argument, "." also matching a newline.
// The pattern alone must compile too, so that its parentheses balance and
// the anchoring cannot change its meaning.
func ArgumentPattern(s string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(s); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?s:` + s + `)$`)
}

// envNameRE is what an inherited variable's name must look like.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// valueChecks are the value checks of Validate, one named check per SPEC
// section, in SPEC order (the style of runc's configs/validate). Each key's
// values are checked here only: package policy trusts a validated config.
var valueChecks = []func(*Config) *Error{
	checkExecutableValues,       // 3.1 Executables
	checkArgumentValues,         // 3.2 Arguments
	checkEnvironmentValues,      // 3.3 Environment
	checkWorkingDirectoryValues, // 3.4 Working directory
	checkResourceLimitValues,    // 3.5 Resource limits
	checkProcessLimitValues,     // 3.6 Process limits
	checkRateLimitValues,        // 3.7 Rate limiting
	checkIOValues,               // 3.9 I/O
	checkIsolationValues,        // 3.10 Isolation
	checkNetworkValues,          // 3.11 Network
	checkAuditValues,            // 3.12 Audit and alerts
	checkConfirmationValues,     // 3.13 Confirmation
	checkTimeWindowValues,       // 3.14 Time windows
	checkAdvancedValues,         // 3.15 Advanced
	checkAgentValues,            // 4 Identity
}

func checkValues(c *Config) *Error {
	for _, check := range valueChecks {
		if e := check(c); e != nil {
			return e
		}
	}
	return nil
}

// firstError returns the first error of checks, run in order.
func firstError(checks ...func() *Error) *Error {
	for _, ch := range checks {
		if e := ch(); e != nil {
			return e
		}
	}
	return nil
}

// checkExecutableValues checks executables, their search path and the tree scope (SPEC 3.1 Executables).
func checkExecutableValues(c *Config) *Error {
	return firstError(
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
				if _, err := filepath.Match(e, ""); err != nil && !strings.Contains(e, "/") {
					return invalid(fmt.Sprintf("additionalBlockedExecutables[%d]", i), "fix the glob (path.Match syntax)", "%q is not a valid glob: %v", e, err)
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
	)
}

// checkArgumentValues checks argument limits and patterns (SPEC 3.2 Arguments).
func checkArgumentValues(c *Config) *Error {
	return firstError(
		func() *Error { return nonNegative("maxArgumentCount", int64(c.MaxArgumentCount)) },
		func() *Error { return nonNegative("maxArgumentLength", int64(c.MaxArgumentLength)) },
		func() *Error {
			for i, p := range c.BlockedArgumentPatterns {
				if _, err := ArgumentPattern(p); err != nil {
					return invalid(fmt.Sprintf("blockedArgumentPatterns[%d]", i), "write a valid Go RE2 regular expression (matched against each whole argument)", "%q is not a valid regular expression: %v", p, err)
				}
			}
			return nil
		},
	)
}

// checkEnvironmentValues checks environment variable names and limits (SPEC 3.3 Environment).
func checkEnvironmentValues(c *Config) *Error {
	return firstError(
		func() *Error { return envNames("additionalBlockedEnvVars", c.AdditionalBlockedEnvVars) },
		func() *Error { return envNames("allowedEnvVars", c.AllowedEnvVars) },
		func() *Error { return nonNegative("maxEnvVarCount", int64(c.MaxEnvVarCount)) },
		func() *Error { return envNames("inheritEnvVars", c.InheritEnvVars) },
		func() *Error {
			for i, n := range c.InheritEnvVars {
				if !envNameRE.MatchString(n) {
					return invalid(fmt.Sprintf("inheritEnvVars[%d]", i), "use a variable name: letters, digits and _, not starting with a digit", "%q is not a valid variable name", n)
				}
			}
			return nil
		},
		func() *Error {
			for _, l := range []struct {
				key   string
				names []string
			}{{"allowedEnvVars", c.AllowedEnvVars}, {"inheritEnvVars", c.InheritEnvVars}} {
				for i, n := range l.names {
					if strings.EqualFold(n, "HOME") {
						return invalid(fmt.Sprintf("%s[%d]", l.key, i), "remove HOME from "+l.key+": a child's HOME is always its agent's own directory, no request may set it (docs/environment.md)", "is HOME, which the server sets")
					}
				}
			}
			return nil
		},
	)
}

// checkWorkingDirectoryValues checks working directory lists (SPEC 3.4 Working directory).
func checkWorkingDirectoryValues(c *Config) *Error {
	return firstError(
		func() *Error { return absPaths("allowedWorkingDirectories", c.AllowedWorkingDirectories) },
		func() *Error { return absPaths("blockedWorkingDirectories", c.BlockedWorkingDirectories) },
	)
}

// checkResourceLimitValues checks resource limits (SPEC 3.5 Resource limits).
func checkResourceLimitValues(c *Config) *Error {
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
	return firstError(
		func() *Error { return limits("defaultResourceLimits", c.DefaultResourceLimits) },
		func() *Error { return limits("maximumResourceLimits", c.MaximumResourceLimits) },
	)
}

// checkProcessLimitValues checks process counts and lifetimes (SPEC 3.6 Process limits).
func checkProcessLimitValues(c *Config) *Error {
	return firstError(
		func() *Error { return nonNegative("maxConcurrentProcesses", int64(c.MaxConcurrentProcesses)) },
		func() *Error {
			return nonNegative("maxConcurrentProcessesPerAgent", int64(c.MaxConcurrentProcessesPerAgent))
		},
		func() *Error { return atLeastOne("maxProcessLifetime", c.MaxProcessLifetime) },
		func() *Error { return nonNegative("maxTotalProcesses", int64(c.MaxTotalProcesses)) },
		func() *Error { return nonNegative("exitedRetentionSeconds", c.ExitedRetentionSeconds) },
	)
}

// checkRateLimitValues checks launch rates (SPEC 3.7 Rate limiting).
func checkRateLimitValues(c *Config) *Error {
	return firstError(
		func() *Error { return nonNegative("maxLaunchesPerMinute", int64(c.MaxLaunchesPerMinute)) },
		func() *Error { return nonNegative("maxLaunchesPerHour", int64(c.MaxLaunchesPerHour)) },
		func() *Error { return nonNegative("rateLimitCooldownSeconds", c.RateLimitCooldownSeconds) },
	)
}

// checkIOValues checks output buffers and sessions (SPEC 3.9 I/O).
func checkIOValues(c *Config) *Error {
	return firstError(
		func() *Error { return atLeastOne("maxOutputBufferSize", c.MaxOutputBufferSize) },
		func() *Error { return atLeastOne("maxRetainedOutputBytes", c.MaxRetainedOutputBytes) },
		func() *Error { return atLeastOne("httpSessionIdleSeconds", c.HTTPSessionIdleSeconds) },
	)
}

// checkIsolationValues checks chroot directory and seccomp profile (SPEC 3.10 Isolation).
func checkIsolationValues(c *Config) *Error {
	return firstError(
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
	)
}

// checkNetworkValues checks network destinations (SPEC 3.11 Network).
func checkNetworkValues(c *Config) *Error {
	return firstError(
		func() *Error { return networkEntries("allowedNetworkDestinations", c.AllowedNetworkDestinations) },
		func() *Error { return networkEntries("blockedNetworkDestinations", c.BlockedNetworkDestinations) },
	)
}

// checkAuditValues checks audit logs and alerts (SPEC 3.12 Audit and alerts).
func checkAuditValues(c *Config) *Error {
	return firstError(
		func() *Error {
			if c.EnableAuditLog && c.AuditLogPath == "" {
				return invalid("auditLogPath", "set auditLogPath to an absolute file path (no default: neither XDG_STATE_HOME nor HOME is set)", "is required when enableAuditLog is true")
			}
			return absPath("auditLogPath", c.AuditLogPath)
		},
		func() *Error { return oneOf("auditLogLevel", c.AuditLogLevel, AuditLogLevels) },
		func() *Error { return absPath("securityViolationLogPath", c.SecurityViolationLogPath) },
		func() *Error { return absPath("auditSigningKeyFile", c.AuditSigningKeyFile) },
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
	)
}

// checkConfirmationValues checks confirmation (SPEC 3.13 Confirmation).
func checkConfirmationValues(c *Config) *Error {
	return firstError(
		func() *Error { return nonEmptyEntries("requireConfirmationFor", c.RequireConfirmationFor) },
		func() *Error { return nonNegative("autoApproveAfterCount", int64(c.AutoApproveAfterCount)) },
		func() *Error { return atLeastOne("confirmationTimeoutSeconds", c.ConfirmationTimeoutSeconds) },
		func() *Error { return checkApproval(c) },
	)
}

// checkTimeWindowValues checks time windows (their syntax is parsed by the policy package) and zone (SPEC 3.14 Time windows (syntax is checked by the policy package)).
func checkTimeWindowValues(c *Config) *Error {
	return firstError(
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
		func() *Error { return timeWindowSyntax(c, "allowedTimeWindows", c.AllowedTimeWindows) },
		func() *Error { return timeWindowSyntax(c, "blockedTimeWindows", c.BlockedTimeWindows) },
	)
}

// timeWindowSyntax parses each entry of key (timewindow.go).
func timeWindowSyntax(c *Config, key string, list []string) *Error {
	loc, err := c.TimeLocation()
	if err != nil {
		return nil // timeZone's own check says so
	}
	for i, s := range list {
		if _, err := ParseTimeWindow(s, loc); err != nil {
			return invalid(fmt.Sprintf("%s[%d]", key, i), `write "DAYS TIMES [ZONE]", e.g. "Mon-Fri 09:00-17:00 Europe/Paris", "Sat,Sun *" or "* 22:00-06:00"`,
				"%q: %v", s, err)
		}
	}
	return nil
}

// checkAdvancedValues checks MAC, capabilities, tmpfs, writable and hidden paths (SPEC 3.15 Advanced).
func checkAdvancedValues(c *Config) *Error {
	return firstError(
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
	)
}

// checkAgentValues checks agents and their tokens (SPEC 4 Identity).
func checkAgentValues(c *Config) *Error {
	return firstError(
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
	)
}

func nonEmptyEntries(key string, list []string) *Error {
	for i, s := range list {
		if strings.TrimSpace(s) == "" {
			return invalid(fmt.Sprintf("%s[%d]", key, i), "remove the empty entry", "the entry is empty")
		}
	}
	return nil
}
