package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
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

func checkContradictions(c *Config) *Error {
	for _, check := range []func(*Config) *Error{checkExecutableContradictions, checkEnvContradictions, checkLimitContradictions, (*Config).checkJail} {
		if e := check(c); e != nil {
			return e
		}
	}
	return nil
}

// checkExecutableContradictions refuses an allowed or helper executable
// that can never run (always blocked, a blocked shell, also in
// additionalBlockedExecutables), and helpers without the tree scope.
func checkExecutableContradictions(c *Config) *Error {
	blockedExtra := map[string]bool{}
	for _, b := range c.AdditionalBlockedExecutables {
		blockedExtra[strings.ToLower(filepath.Base(b))] = true
	}
	for i, e := range c.AllowedExecutables {
		if IsGlob(e) {
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
		if IsGlob(e) {
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
	return nil
}

// checkEnvContradictions refuses an allowed or inherited variable that is
// always blocked or also in additionalBlockedEnvVars.
func checkEnvContradictions(c *Config) *Error {
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
	return nil
}

// checkLimitContradictions refuses a default resource limit above its
// maximum.
func checkLimitContradictions(c *Config) *Error {
	for _, f := range limitFields {
		d, m := f.get(&c.DefaultResourceLimits), f.get(&c.MaximumResourceLimits)
		if m > 0 && d > m {
			return invalid("defaultResourceLimits."+f.name,
				fmt.Sprintf("lower defaultResourceLimits.%s to at most %v, or raise maximumResourceLimits.%s", f.name, m, f.name),
				"the default %v is above maximumResourceLimits.%s (%v)", d, f.name, m)
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

func unavailable(key string, l layer.Layer, remedy, format string, a ...any) *Error {
	return &Error{Key: key, Message: key + ": " + fmt.Sprintf(format, a...), Remedy: remedy, Code: errcode.LayerUnavailable, Layer: l.String()}
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
				return unavailable(key, layer.Namespaces, "set "+key+" to false", "%v", err)
			}
			if n.name != "user" && !userNS && !host.root() {
				return unavailable(key, layer.Namespaces, "run the server as root, or also set namespaces.user to true",
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
			return unavailable(m.key, map[string]layer.Layer{"enableChroot": layer.Chroot, "readOnlyFilesystem": layer.Filesystem}[m.key],
				"run the server as root, or enable namespaces.user (with enableNamespaces)",
				"needs a private mount namespace (CAP_SYS_ADMIN): the server is not root and namespaces.user is off")
		}
	}
	if c.ReadOnlyFilesystem {
		if err := host.mountSetattr(); err != nil {
			return unavailable("readOnlyFilesystem", layer.Filesystem, "set readOnlyFilesystem to false, or use Linux 5.12 or later", "%v", err)
		}
	}
	if len(c.KeepCapabilities) > 0 && !userNS && !host.root() {
		return unavailable("keepCapabilities", layer.Capabilities, "remove keepCapabilities, or run the server as root",
			"the server is not root, so its children have no capability to keep")
	}
	if c.EnableSeccomp {
		if err := host.seccomp(); err != nil {
			return unavailable("enableSeccomp", layer.Seccomp, "set enableSeccomp to false", "%v", err)
		}
	}
	if c.Landlock {
		if _, err := host.landlock(); err != nil {
			return unavailable("landlock", layer.Landlock, "set landlock to false, or enable Landlock in the kernel (Linux 5.13+, lsm=...,landlock)", "%v", err)
		}
	}
	if c.ExecutablePolicyScope == ScopeTree {
		if _, err := host.landlock(); err != nil {
			return unavailable("executablePolicyScope", layer.Landlock,
				"set executablePolicyScope to \"launch\" (children may then exec any file they can reach), or enable Landlock in the kernel (Linux 5.13+, lsm=...,landlock)",
				"\"tree\" needs Landlock to restrict what every process of a tree may exec: %v", err)
		}
	}
	if c.EnableMAC {
		if _, err := host.mac(); err != nil {
			return unavailable("enableMAC", layer.MAC, "set enableMAC to false, or run the server on a host where AppArmor or SELinux is active", "%v", err)
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
