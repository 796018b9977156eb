// Package layer is the one vocabulary of enforcement layers: the registry
// of every name that the `layer` field of an error, an audit record or an
// alert can carry, and of every layer that validate, doctor and
// process_get_policy report.
//
// It guarantees:
//   - every layer of the SPEC (the fifteen sections of SPEC 3, where
//     "Isolation" and "Advanced" are several layers each, plus the tree
//     kill of SPEC 7.1) is registered once, with its stable name, its SPEC
//     section, a one-line summary, the config keys that configure it and
//     turn it on, the init-stage steps whose failure it reports and the
//     doctor rows that probe it: every description of a layer elsewhere
//     reads it from here;
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
	// Summary says in one line what the layer enforces, what a mechanism
	// gives every child, or where an origin's failures come from. Every
	// entry has one; reports that describe a layer print it (Describe).
	Summary string
	// Section is the SPEC section that defines it ("3.1" ... "3.15", "7.1").
	Section string
	// Keys are the config keys that configure the layer. For an Optional
	// layer they are exactly the keys that ask for it: a configuration
	// that sets one is refused (LAYER_UNAVAILABLE) unless the layer is
	// built.
	Keys []string
	// On are the keys, any one of which turns the layer on (a subset of
	// Keys); none: the layer is always on. The report says "off (Off)"
	// when none of them is set.
	On []string
	// Optional layers are off unless a key asks for them, and are refused
	// when not built. The others are always on (or off only as Off says).
	Optional bool
	// Off is what the report says, in "off (...)", when the configuration
	// does not ask for the layer; for an Optional layer not built, what is
	// "refused".
	Off string
	// Of is, for a Mechanism, the layer it is part of.
	Of Layer
	// Doctor names the probes the layer needs: each is a row of
	// `mcp-process doctor` that says whether this host can enforce the
	// layer. A name is a probe of internal/hostfeat (hostfeat.Probes) or
	// one of the few that doctor answers above it (cmd/mcp-process:
	// aboveKernel, and the cgroup manager's rows); doctor builds its rows
	// from these names, in registry order, and prints what each probe
	// found (a name without a probe fails TestDoctorProbesExist).
	Doctor []string
	// Steps are the init stage's steps (stage.Step*) whose failure this
	// layer reports: a failed step's error carries its layer, never the
	// step's name. Every step belongs to one entry (the init stage's own
	// steps to Sandbox).
	Steps []string
	// built is false for an Optional layer this binary does not have.
	built bool
}

// registry is every name, enforcement layers first in SPEC order. A new
// layer goes here.
var registry = []Info{
	{Layer: Executables, Kind: Enforced, Section: "3.1", built: true,
		Doctor:  []string{"executable-scope-tree"},
		Summary: "which files may run: the allowlist, the always-blocked tools and exec wrappers, shells, setuid files",
		Keys:    []string{"allowedExecutables", "additionalBlockedExecutables", "blockShellInterpreters", "blockSetuidExecutables", "searchPath", "executablePolicyScope", "helperExecutables"}},
	{Layer: Arguments, Kind: Enforced, Section: "3.2", built: true,
		Summary: "how many arguments a launch has, how long, and the patterns refused in them",
		Keys:    []string{"maxArgumentCount", "maxArgumentLength", "blockedArgumentPatterns", "blockInjectionPatterns"}},
	{Layer: Environment, Kind: Enforced, Section: "3.3", built: true,
		Summary: "the child's environment, built from the allowed variables, never inherited",
		Keys:    []string{"allowedEnvVars", "additionalBlockedEnvVars", "maxEnvVarCount", "inheritEnvVars"}},
	{Layer: WorkingDirectory, Kind: Enforced, Section: "3.4", built: true,
		Summary: "the directories a launch may start in (real paths, allowed and blocked)",
		Keys:    []string{"allowedWorkingDirectories", "blockedWorkingDirectories"}},
	{Layer: ResourceLimits, Kind: Enforced, Section: "3.5", built: true, Steps: []string{"rlimit", "cgroup"},
		Doctor:  []string{"cgroup-v2", "cgroup-v1", "cgroup-choice"},
		Summary: "memory, processes and CPU share (cgroups), file descriptors and CPU time (rlimits), per launch",
		Keys:    []string{"defaultResourceLimits", "maximumResourceLimits", "strictResourceEnforcement"}},
	{Layer: ProcessLimits, Kind: Enforced, Section: "3.6", built: true,
		Summary: "concurrent processes (server-wide and per agent), total launches, lifetime",
		Keys:    []string{"maxConcurrentProcesses", "maxConcurrentProcessesPerAgent", "maxTotalProcesses", "maxProcessLifetime"}},
	{Layer: RateLimits, Kind: Enforced, Section: "3.7", built: true,
		Summary: "launches per minute and per hour, with a cooldown",
		Keys:    []string{"maxLaunchesPerMinute", "maxLaunchesPerHour", "rateLimitCooldownSeconds"}},
	{Layer: Termination, Kind: Enforced, Section: "3.8", built: true,
		Summary: "whether an agent may terminate a process or a group, and by force",
		Keys:    []string{"allowProcessTermination", "allowGroupTermination", "allowForcedTermination"}},
	{Layer: IO, Kind: Enforced, Section: "3.9", built: true,
		Summary: "stdin input and output capture, their sizes, binary stdin",
		Keys:    []string{"allowStdinInput", "allowOutputCapture", "maxOutputBufferSize", "blockBinaryStdin"}},
	{Layer: Namespaces, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableNamespaces", Steps: []string{"hostname"},
		Doctor:  []string{"namespace:user", "namespace:pid", "namespace:net", "namespace:mount", "namespace:uts", "namespace:ipc", "user-namespace-mapping"},
		Summary: "user, pid, network, mount, uts and ipc namespaces of a launch's own",
		Keys:    []string{"enableNamespaces", "namespaces"}, On: []string{"enableNamespaces"}},
	{Layer: Chroot, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableChroot",
		Doctor:  []string{"chroot", "server-root"},
		Summary: "a pivot_root jail: chrootDirectory, or one composed at launch",
		Keys:    []string{"enableChroot"}, On: []string{"enableChroot"}},
	{Layer: Seccomp, Kind: Enforced, Section: "3.10", built: true, Optional: true, Off: "enableSeccomp", Steps: []string{"seccomp"},
		Doctor:  []string{"seccomp"},
		Summary: "a seccomp profile, on top of the baseline every child gets",
		Keys:    []string{"enableSeccomp"}, On: []string{"enableSeccomp"}},
	// network: the proxy is the server's EgressServer.
	{Layer: Network, Kind: Enforced, Section: "3.11", built: true, Optional: true, Off: "blockNetworkAccess, allowed/blockedNetworkDestinations", Steps: []string{"loopback", "egress", "landlock-net"},
		Doctor:  []string{"network-transparent-capture", "landlock-tcp-connect"},
		Summary: "no network, or an allowlist through the server's egress proxy",
		Keys:    []string{"blockNetworkAccess", "allowedNetworkDestinations", "blockedNetworkDestinations"}, On: []string{"blockNetworkAccess", "allowedNetworkDestinations", "blockedNetworkDestinations"}},
	{Layer: Audit, Kind: Enforced, Section: "3.12", built: true, Off: "enableAuditLog false",
		Summary: "the hash-chained audit log, the violation log and security alerts",
		Keys:    []string{"enableAuditLog", "auditLogPath", "auditLogLevel", "enableSecurityAlerts", "securityAlertWebhook"}, On: []string{"enableAuditLog"}},
	{Layer: Approval, Kind: Enforced, Section: "3.13", built: true, Optional: true, Off: "requireConfirmation*",
		Summary: "a human approves chosen launches and terminations",
		Keys:    []string{"requireConfirmation", "requireConfirmationFor", "requireTerminationConfirmation"}, On: []string{"requireConfirmation", "requireConfirmationFor", "requireTerminationConfirmation"}},
	{Layer: TimeWindows, Kind: Enforced, Section: "3.14", built: true, Off: "no windows configured",
		Summary: "the hours when launches are allowed or blocked",
		Keys:    []string{"allowedTimeWindows", "blockedTimeWindows"}, On: []string{"allowedTimeWindows", "blockedTimeWindows"}},
	{Layer: MAC, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "enableMAC", Steps: []string{"mac"},
		Doctor:  []string{"apparmor", "selinux"},
		Summary: "an AppArmor profile or SELinux context for the exec",
		Keys:    []string{"enableMAC"}, On: []string{"enableMAC"}},
	{Layer: Capabilities, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "dropCapabilities, keepCapabilities", Steps: []string{"capabilities"},
		Doctor:  []string{"capabilities"},
		Summary: "none for a root server's children unless keepCapabilities",
		Keys:    []string{"dropCapabilities", "keepCapabilities"}, On: []string{"dropCapabilities", "keepCapabilities"}},
	{Layer: Filesystem, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "readOnlyFilesystem, tmpfsSize, writablePaths", Steps: []string{"mounts", "private-view"},
		Doctor:  []string{"mount_setattr"},
		Summary: "a read-only filesystem with a private /tmp and the writable paths, and the private view",
		Keys:    []string{"readOnlyFilesystem", "tmpfsSize", "writablePaths"}, On: []string{"readOnlyFilesystem"}},
	{Layer: Landlock, Kind: Enforced, Section: "3.15", built: true, Optional: true, Off: "landlock", Steps: []string{"landlock", "landlock-scope"},
		Doctor:  []string{"landlock", "landlock-scope"},
		Summary: "writes confined to the writable paths, and the child's own Landlock domain",
		Keys:    []string{"writablePaths", "landlock"}, On: []string{"landlock"}},
	{Layer: TreeKill, Kind: Enforced, Section: "7.1", built: true,
		Doctor:  []string{"tree-kill-on-server-death"},
		Summary: "every process the server started dies with the server, by any means"},

	{Layer: InitStage, Kind: Mechanism, Section: "3.10", built: true,
		Summary: "every launch contained by the re-exec init stage before the target runs"},
	{Layer: ExecByFD, Kind: Mechanism, Section: "3.1", Of: Executables, built: true,
		Summary: "the checked file executed by descriptor, not by path"},
	{Layer: ProcessGroup, Kind: Mechanism, Section: "3.8", Of: Termination, built: true,
		Summary: "a process group of its own, terminated as one"},
	{Layer: Pdeathsig, Kind: Mechanism, Section: "7.1", Of: TreeKill, built: true,
		Summary: "killed when the server dies"},
	{Layer: BuiltEnv, Kind: Mechanism, Section: "3.3", Of: Environment, built: true,
		Summary: "the environment built by the policy"},
	{Layer: NoCoreDumps, Kind: Mechanism, Section: "3.5", Of: ResourceLimits, built: true,
		Summary: "no core dumps (RLIMIT_CORE 0)"},
	{Layer: NoNewPrivs, Kind: Mechanism, Section: "3.1", Of: Executables, built: true, Steps: []string{"no_new_privs"},
		Summary: "always: an exec never gains privileges; setuid bits and file capabilities are inert"},

	{Layer: Config, Kind: Origin, built: true, Summary: "the configuration (refused at start, or by New)"},
	{Layer: Input, Kind: Origin, built: true, Summary: "a tool's arguments do not match its schema"},
	{Layer: Server, Kind: Origin, built: true, Summary: "the server itself (an internal failure)"},
	{Layer: Process, Kind: Origin, built: true, Summary: "a managed process: not found, not startable"},
	{Layer: Service, Kind: Origin, built: true, Summary: "a service or its health check"},
	{Layer: Group, Kind: Origin, built: true, Summary: "a process group"},
	{Layer: PTY, Kind: Origin, built: true, Steps: []string{"terminal"}, Summary: "a process's pseudo-terminal"},
	{Layer: HTTPSession, Kind: Origin, built: true, Summary: "an HTTP session of another agent"},
	{Layer: Sandbox, Kind: Origin, built: true, Steps: []string{"config", "stdio", "fds", "gate", "chdir", "exec", "identity"},
		Summary: "the init stage failed outside any layer's step"},
}

// All returns every registry entry (a copy), enforcement layers first in
// SPEC order, then mechanisms, then origins. Capabilities is one entry:
// the mechanism every child gets is the same layer.
func All() []Info {
	out := make([]Info, len(registry))
	for i, in := range registry {
		in.Keys = slices.Clone(in.Keys)
		in.On = slices.Clone(in.On)
		in.Steps = slices.Clone(in.Steps)
		in.Doctor = slices.Clone(in.Doctor)
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

// ForStep returns the entry whose Steps hold step, a step of the init stage
// (stage.Step*): the layer its failure reports. ok is false for a step no
// entry claims.
func ForStep(step string) (Layer, bool) {
	for _, in := range registry {
		if slices.Contains(in.Steps, step) {
			return in.Layer, true
		}
	}
	return "", false
}

// Describe returns "NAME (SUMMARY)" for a registered name, as reports that
// list layers print it; an unregistered name is returned alone.
func Describe(l Layer) string {
	in, ok := Lookup(string(l))
	if !ok {
		return string(l)
	}
	return string(l) + " (" + in.Summary + ")"
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

// OnKeys returns every key that turns a layer on (Info.On), each once, in
// registry order.
func OnKeys() []string {
	var out []string
	for _, in := range registry {
		for _, k := range in.On {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	return out
}

// DoctorRows returns every row of `mcp-process doctor` that an entry
// claims (Info.Doctor), in registry order.
func DoctorRows() []string {
	var out []string
	for _, in := range registry {
		out = append(out, in.Doctor...)
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
	// Set reports whether the configuration sets key (one of a layer's On
	// keys) to a value that turns its layer on.
	Set(key string) bool
	// Built reports whether this build has the layer (normally Built).
	Built(Layer) bool
	// State is the layer's state where the host decides it (cgroups, the
	// tree hold, the network mode); ok is false where it does not.
	State(Layer) (state string, ok bool)
}

// On reports whether the configuration h describes turns l on: l has no
// On keys (always on), or h sets one of them.
func On(h Host, l Layer) bool {
	in, ok := Lookup(string(l))
	if !ok {
		return false
	}
	if len(in.On) == 0 {
		return true
	}
	return slices.ContainsFunc(in.On, h.Set)
}

// Report says, per enforcement layer, its state for h: the host's own
// State where it has one; "not built in this version (KEYS refused)" for
// an Optional layer this build lacks; "enforced" for a layer that is on
// (On); "off (WHY)" for one the configuration leaves off. The keys are the
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
		case On(h, in.Layer):
			m[name] = "enforced"
		default:
			m[name] = "off (" + in.Off + ")"
		}
	}
	return m
}
