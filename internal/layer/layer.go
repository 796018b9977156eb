// Package layer is the one vocabulary of enforcement layers: the registry
// of every name that the `layer` field of an error, an audit record or an
// alert can carry, and of every layer that validate, doctor and
// process_get_policy report.
//
// It guarantees:
//   - every layer of the SPEC (the fifteen sections of SPEC 3, where
//     "Isolation" and "Advanced" are several layers each, plus the tree
//     kill of SPEC 7.1) is registered once, with its stable name, its SPEC
//     section and the config keys that configure it;
//   - a name is never renamed here without a test saying so: the names are
//     what users see in error JSON, audit records, alerts and reports;
//   - Built says whether this binary has a layer; Report turns what a
//     configuration asks for and what the host gives (a Host) into the
//     per-layer states that validate, doctor and process_get_policy print;
//   - besides the layers, a few origins (Config, Input, Server, ...) name
//     where a failure that no layer decided comes from. They are valid
//     error layers, but never reported as enforced.
//
// A new layer is one entry in registry (this file), then the places that
// enforce it (docs/architecture.md, "Where a new isolation layer goes").
// The package has no dependencies, so every other package can use it.
package layer

import "slices"

// Layer is the stable name of a layer (or origin), as users see it.
type Layer string

// String returns the name.
func (l Layer) String() string { return string(l) }

// The enforcement layers, in SPEC order.
const (
	Executables      Layer = "executables"       // SPEC 3.1
	Arguments        Layer = "arguments"         // SPEC 3.2
	Environment      Layer = "environment"       // SPEC 3.3
	WorkingDirectory Layer = "working-directory" // SPEC 3.4
	ResourceLimits   Layer = "resource-limits"   // SPEC 3.5
	ProcessLimits    Layer = "process-limits"    // SPEC 3.6
	RateLimits       Layer = "rate-limits"       // SPEC 3.7
	Termination      Layer = "termination"       // SPEC 3.8
	IO               Layer = "io"                // SPEC 3.9
	Namespaces       Layer = "namespaces"        // SPEC 3.10
	Chroot           Layer = "chroot"            // SPEC 3.10
	Seccomp          Layer = "seccomp"           // SPEC 3.10
	Network          Layer = "network"           // SPEC 3.11
	Audit            Layer = "audit"             // SPEC 3.12
	Approval         Layer = "approval"          // SPEC 3.13
	TimeWindows      Layer = "time-windows"      // SPEC 3.14
	Capabilities     Layer = "capabilities"      // SPEC 3.15
	Filesystem       Layer = "filesystem"        // SPEC 3.15
	Landlock         Layer = "landlock"          // SPEC 3.15
	MAC              Layer = "mac"               // SPEC 3.15
	// TreeKill kills every process the server started when the server
	// dies, by any means.
	TreeKill Layer = "tree-kill-on-server-death" // SPEC 7.1
)

// The mechanisms every child gets, as a launch's `sandbox` field lists
// them (each part of a layer above, see Info.Of).
const (
	InitStage    Layer = "init-stage"
	ExecByFD     Layer = "exec-by-fd"
	ProcessGroup Layer = "process-group"
	Pdeathsig    Layer = "pdeathsig"
	BuiltEnv     Layer = "built-environment"
	NoCoreDumps  Layer = "no-core-dumps"
	NoNewPrivs   Layer = "no-new-privs"
)

// The origins: where an error comes from when no layer decided it.
const (
	Config      Layer = "config"       // the configuration (refused at start, or by New)
	Input       Layer = "input"        // a tool's arguments do not match its schema
	Server      Layer = "server"       // the server itself (an internal failure)
	Process     Layer = "process"      // a managed process: not found, not startable
	Service     Layer = "service"      // a service or its health check
	Group       Layer = "group"        // a process group
	PTY         Layer = "pty"          // a process's pseudo-terminal
	HTTPSession Layer = "http-session" // an HTTP session of another agent
	Sandbox     Layer = "sandbox"      // the init stage failed outside any layer's step
)

// Kind says what a registered name is.
type Kind int

const (
	// Enforced is a layer of the policy: reported by validate, doctor and
	// process_get_policy.
	Enforced Kind = iota + 1
	// Mechanism is a part of a layer that every child gets (a launch's
	// `sandbox` field names it).
	Mechanism
	// Origin names where an error comes from when no layer decided it.
	Origin
)

// Info is one registry entry.
type Info struct {
	Layer Layer
	Kind  Kind
	// Section is the SPEC section that defines it ("3.1" ... "3.15", "7.1").
	Section string
	// Keys are the config keys that configure the layer. For an Optional
	// layer they are exactly the keys that ask for it: a configuration
	// that sets one is refused (LAYER_UNAVAILABLE) unless the layer is
	// built.
	Keys []string
	// Optional layers are off unless a key asks for them, and are refused
	// when not built. The others are always on (or off only as Off says).
	Optional bool
	// Off is what the report says, in "off (...)", when the configuration
	// does not ask for the layer; for an Optional layer not built, what is
	// "refused".
	Off string
	// Of is, for a Mechanism, the layer it is part of.
	Of Layer
	// built is false for an Optional layer this binary does not have.
	built bool
}

// registry is every name, enforcement layers first in SPEC order. A new
// layer goes here.
var registry = []Info{
	{Layer: Executables, Kind: Enforced, Section: "3.1", built: true, Keys: []string{"allowedExecutables", "additionalBlockedExecutables", "blockShellInterpreters", "blockSetuidExecutables", "searchPath", "executablePolicyScope", "helperExecutables"}},
	{Layer: Arguments, Kind: Enforced, Section: "3.2", built: true, Keys: []string{"maxArgumentCount", "maxArgumentLength", "blockedArgumentPatterns", "blockInjectionPatterns"}},
	{Layer: Environment, Kind: Enforced, Section: "3.3", built: true, Keys: []string{"allowedEnvVars", "additionalBlockedEnvVars", "maxEnvVarCount", "inheritEnvVars"}},
	{Layer: WorkingDirectory, Kind: Enforced, Section: "3.4", built: true, Keys: []string{"allowedWorkingDirectories", "blockedWorkingDirectories"}},
	{Layer: ResourceLimits, Kind: Enforced, Section: "3.5", built: true, Keys: []string{"defaultResourceLimits", "maximumResourceLimits", "strictResourceEnforcement"}},
	{Layer: ProcessLimits, Kind: Enforced, Section: "3.6", built: true, Keys: []string{"maxConcurrentProcesses", "maxConcurrentProcessesPerAgent", "maxTotalProcesses", "maxProcessLifetime"}},
	{Layer: RateLimits, Kind: Enforced, Section: "3.7", built: true, Keys: []string{"maxLaunchesPerMinute", "maxLaunchesPerHour", "rateLimitCooldownSeconds"}},
	{Layer: Termination, Kind: Enforced, Section: "3.8", built: true, Keys: []string{"allowProcessTermination", "allowGroupTermination", "allowForcedTermination"}},
	{Layer: IO, Kind: Enforced, Section: "3.9", built: true, Keys: []string{"allowStdinInput", "allowOutputCapture", "maxOutputBufferSize", "blockBinaryStdin"}},
	{Layer: Namespaces, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableNamespaces", Keys: []string{"enableNamespaces", "namespaces"}},
	{Layer: Chroot, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableChroot", Keys: []string{"enableChroot"}},
	{Layer: Seccomp, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableSeccomp", Keys: []string{"enableSeccomp"}},
	// network: the proxy is the server's EgressServer.
	{Layer: Network, Kind: Enforced, Section: "3.11", built: true, Optional: true, Off: "blockNetworkAccess, allowed/blockedNetworkDestinations", Keys: []string{"blockNetworkAccess", "allowedNetworkDestinations", "blockedNetworkDestinations"}},
	{Layer: Audit, Kind: Enforced, Section: "3.12", built: true, Off: "enableAuditLog false", Keys: []string{"enableAuditLog", "auditLogPath", "auditLogLevel", "enableSecurityAlerts", "securityAlertWebhook"}},
	{Layer: Approval, Kind: Enforced, Section: "3.13", built: true, Optional: true, Off: "requireConfirmation*", Keys: []string{"requireConfirmation", "requireConfirmationFor", "requireTerminationConfirmation"}},
	{Layer: TimeWindows, Kind: Enforced, Section: "3.14", built: true, Off: "no windows configured", Keys: []string{"allowedTimeWindows", "blockedTimeWindows"}},
	{Layer: MAC, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "enableMAC", Keys: []string{"enableMAC"}},
	{Layer: Capabilities, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "dropCapabilities, keepCapabilities", Keys: []string{"dropCapabilities", "keepCapabilities"}},
	{Layer: Filesystem, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "readOnlyFilesystem, tmpfsSize, writablePaths", Keys: []string{"readOnlyFilesystem", "tmpfsSize", "writablePaths"}},
	{Layer: Landlock, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "landlock", Keys: []string{"writablePaths", "landlock"}},
	{Layer: TreeKill, Kind: Enforced, Section: "7.1", built: true},

	{Layer: InitStage, Kind: Mechanism, Section: "3.10", built: true},
	{Layer: ExecByFD, Kind: Mechanism, Section: "3.1", Of: Executables, built: true},
	{Layer: ProcessGroup, Kind: Mechanism, Section: "3.8", Of: Termination, built: true},
	{Layer: Pdeathsig, Kind: Mechanism, Section: "7.1", Of: TreeKill, built: true},
	{Layer: BuiltEnv, Kind: Mechanism, Section: "3.3", Of: Environment, built: true},
	{Layer: NoCoreDumps, Kind: Mechanism, Section: "3.5", Of: ResourceLimits, built: true},
	{Layer: NoNewPrivs, Kind: Mechanism, Section: "3.1", Of: Executables, built: true},

	{Layer: Config, Kind: Origin, built: true},
	{Layer: Input, Kind: Origin, built: true},
	{Layer: Server, Kind: Origin, built: true},
	{Layer: Process, Kind: Origin, built: true},
	{Layer: Service, Kind: Origin, built: true},
	{Layer: Group, Kind: Origin, built: true},
	{Layer: PTY, Kind: Origin, built: true},
	{Layer: HTTPSession, Kind: Origin, built: true},
	{Layer: Sandbox, Kind: Origin, built: true},
}

// All returns every registry entry (a copy), enforcement layers first in
// SPEC order, then mechanisms, then origins. Capabilities is one entry:
// the mechanism every child gets is the same layer.
func All() []Info {
	out := make([]Info, len(registry))
	for i, in := range registry {
		in.Keys = slices.Clone(in.Keys)
		out[i] = in
	}
	return out
}

// Of returns the entries of one kind, in registry order.
func Of(k Kind) []Info {
	var out []Info
	for _, in := range All() {
		if in.Kind == k {
			out = append(out, in)
		}
	}
	return out
}

// Lookup returns the entry of a name.
func Lookup(name string) (Info, bool) {
	for _, in := range All() {
		if string(in.Layer) == name {
			return in, true
		}
	}
	return Info{}, false
}

// Registered reports whether l is a registered name.
func Registered(l Layer) bool {
	_, ok := Lookup(string(l))
	return ok
}

// Built reports whether this binary has l: true for every registered name
// but an Optional layer whose entry says it is not built yet; false for an
// unregistered name.
func Built(l Layer) bool {
	in, ok := Lookup(string(l))
	return ok && in.built
}

// ForKey returns the Optional layers that a config key asks for, in
// registry order (writablePaths asks for filesystem and landlock).
func ForKey(key string) []Layer {
	var out []Layer
	for _, in := range registry {
		if in.Optional && slices.Contains(in.Keys, key) {
			out = append(out, in.Layer)
		}
	}
	return out
}

// OptionalKeys returns every key that asks for an Optional layer, each
// once, in registry order.
func OptionalKeys() []string {
	var out []string
	for _, in := range registry {
		if !in.Optional {
			continue
		}
		for _, k := range in.Keys {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// Baseline returns the mechanisms every child gets, in the order a
// launch's `sandbox` field lists them (capabilities last).
func Baseline() []string {
	var out []string
	for _, in := range registry {
		if in.Kind == Mechanism {
			out = append(out, string(in.Layer))
		}
	}
	return append(out, string(Capabilities)) // none, unless keepCapabilities
}

// A Host says, for one configuration on one host, what Report needs.
type Host interface {
	// On reports whether the configuration asks for an Optional layer, or
	// leaves a layer with an Off text on (audit, time windows).
	On(Layer) bool
	// Built reports whether this build has the layer (normally Built).
	Built(Layer) bool
	// State is the layer's state where the host decides it (cgroups, the
	// tree hold, the network mode); ok is false where it does not.
	State(Layer) (state string, ok bool)
}

// Report says, per enforcement layer, its state for h: the host's own
// State where it has one; "not built in this version (KEYS refused)" for
// an Optional layer this build lacks; "enforced" for a layer that is on;
// "off (WHY)" for one the configuration leaves off. The keys are the
// layers' names; every enforcement layer has one.
func Report(h Host) map[string]string {
	m := map[string]string{}
	for _, in := range registry {
		if in.Kind != Enforced {
			continue
		}
		name := string(in.Layer)
		if s, ok := h.State(in.Layer); ok {
			m[name] = s
			continue
		}
		switch {
		case in.Optional && !h.Built(in.Layer):
			m[name] = "not built in this version (" + in.Off + " refused)"
		case in.Off == "" || h.On(in.Layer):
			m[name] = "enforced"
		default:
			m[name] = "off (" + in.Off + ")"
		}
	}
	return m
}
