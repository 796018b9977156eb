// Package config defines the server's policy configuration (the seed's keys,
// same JSON names and types, plus this project's additions), decodes it
// strictly, applies the source precedence of SPEC section 1 and the layering
// of SPEC section 6, and validates it.
//
// Guarantees: a Config returned by Load has been decoded with unknown,
// duplicate and case-variant duplicate keys rejected, laid over the per-key
// defaults (or a profile), and validated: contradictions and layers that are
// not enforceable are errors naming the key and the remedy. Config is read
// once; nothing in this package writes a config file.
package config

// ResourceLimits are the per-launch resource limits (SPEC 3.5). A zero value
// means "not set": in defaultResourceLimits it leaves the limit off, in
// maximumResourceLimits it means no maximum.
type ResourceLimits struct {
	MaxCpuPercent      float64 `json:"maxCpuPercent,omitzero"`
	MaxMemoryMB        int64   `json:"maxMemoryMB,omitzero"`
	MaxFileDescriptors int64   `json:"maxFileDescriptors,omitzero"`
	MaxCpuTime         int64   `json:"maxCpuTime,omitzero"`
	MaxProcesses       int64   `json:"maxProcesses,omitzero"`
}

// Namespaces selects the Linux namespaces a child gets (SPEC 3.10).
type Namespaces struct {
	PID     bool `json:"pid"`
	Network bool `json:"network"`
	Mount   bool `json:"mount"`
	UTS     bool `json:"uts"`
	IPC     bool `json:"ipc"`
	User    bool `json:"user"`
}

// Agent maps a bearer token (by its SHA-256, hex) to an agent id (SPEC 4).
type Agent struct {
	ID          string `json:"id"`
	TokenSha256 string `json:"tokenSha256"`
}

// Config is the whole policy. JSON names are the seed's, unchanged.
//
// Meaning of zero: for the numeric limits (maxArgumentCount,
// maxArgumentLength, maxEnvVarCount, maxConcurrentProcesses,
// maxConcurrentProcessesPerAgent, maxTotalProcesses, maxLaunchesPerMinute,
// maxLaunchesPerHour, rateLimitCooldownSeconds, autoApproveAfterCount and
// every resource limit) 0 means "no limit" / "not set";
// exitedRetentionSeconds 0 forgets a process at exit; maxProcessLifetime,
// maxOutputBufferSize, maxRetainedOutputBytes, httpSessionIdleSeconds and
// confirmationTimeoutSeconds are at least 1. Each
// key's description is in schema.go (keyDocs) and docs/configuration.md.
type Config struct {
	// 3.1 Executables
	AllowedExecutables           []string `json:"allowedExecutables"`
	BlockSetuidExecutables       bool     `json:"blockSetuidExecutables"`
	BlockShellInterpreters       bool     `json:"blockShellInterpreters"`
	AdditionalBlockedExecutables []string `json:"additionalBlockedExecutables"`
	SearchPath                   string   `json:"searchPath"`
	// ExecutablePolicyScope is "tree" (every process of a launch's tree
	// may exec only the files the executable policy allows, by Landlock),
	// "launch" (only the launched file is checked), or "" (Load picks
	// "tree" where the host has Landlock, else "launch" and says so).
	ExecutablePolicyScope string `json:"executablePolicyScope"`
	// HelperExecutables are absolute paths or globs of files a tree may
	// exec in the "tree" scope but that no agent may launch.
	HelperExecutables []string `json:"helperExecutables"`

	// 3.2 Arguments
	MaxArgumentCount        int      `json:"maxArgumentCount"`
	MaxArgumentLength       int      `json:"maxArgumentLength"`
	BlockedArgumentPatterns []string `json:"blockedArgumentPatterns"`
	BlockInjectionPatterns  bool     `json:"blockInjectionPatterns"`

	// 3.3 Environment
	AdditionalBlockedEnvVars []string `json:"additionalBlockedEnvVars"`
	AllowedEnvVars           []string `json:"allowedEnvVars"`
	MaxEnvVarCount           int      `json:"maxEnvVarCount"`
	InheritEnvVars           []string `json:"inheritEnvVars"`

	// 3.4 Working directory
	AllowedWorkingDirectories []string `json:"allowedWorkingDirectories"`
	BlockedWorkingDirectories []string `json:"blockedWorkingDirectories"`

	// 3.5 Resource limits
	DefaultResourceLimits     ResourceLimits `json:"defaultResourceLimits"`
	MaximumResourceLimits     ResourceLimits `json:"maximumResourceLimits"`
	StrictResourceEnforcement bool           `json:"strictResourceEnforcement"`

	// 3.6 Process limits
	MaxConcurrentProcesses         int   `json:"maxConcurrentProcesses"`
	MaxConcurrentProcessesPerAgent int   `json:"maxConcurrentProcessesPerAgent"`
	MaxProcessLifetime             int64 `json:"maxProcessLifetime"`
	MaxTotalProcesses              int   `json:"maxTotalProcesses"`
	ExitedRetentionSeconds         int64 `json:"exitedRetentionSeconds"`

	// 3.7 Rate limiting
	MaxLaunchesPerMinute     int   `json:"maxLaunchesPerMinute"`
	MaxLaunchesPerHour       int   `json:"maxLaunchesPerHour"`
	RateLimitCooldownSeconds int64 `json:"rateLimitCooldownSeconds"`

	// 3.8 Termination
	AllowProcessTermination        bool `json:"allowProcessTermination"`
	AllowGroupTermination          bool `json:"allowGroupTermination"`
	AllowForcedTermination         bool `json:"allowForcedTermination"`
	RequireTerminationConfirmation bool `json:"requireTerminationConfirmation"`

	// 3.9 I/O
	AllowStdinInput     bool  `json:"allowStdinInput"`
	AllowOutputCapture  bool  `json:"allowOutputCapture"`
	MaxOutputBufferSize int64 `json:"maxOutputBufferSize"`
	// MaxRetainedOutputBytes caps the output all processes' rings hold
	// together (SPEC 7.2): past it the oldest exited processes' output is
	// dropped first.
	MaxRetainedOutputBytes int64 `json:"maxRetainedOutputBytes"`
	BlockBinaryStdin       bool  `json:"blockBinaryStdin"`

	// 3.10 Isolation
	EnableChroot     bool       `json:"enableChroot"`
	ChrootDirectory  string     `json:"chrootDirectory"`
	EnableNamespaces bool       `json:"enableNamespaces"`
	Namespaces       Namespaces `json:"namespaces"`
	EnableSeccomp    bool       `json:"enableSeccomp"`
	SeccompProfile   string     `json:"seccompProfile"`

	// 3.11 Network
	BlockNetworkAccess         bool     `json:"blockNetworkAccess"`
	AllowedNetworkDestinations []string `json:"allowedNetworkDestinations"`
	BlockedNetworkDestinations []string `json:"blockedNetworkDestinations"`

	// 3.12 Audit and alerts
	EnableAuditLog             bool   `json:"enableAuditLog"`
	AuditLogPath               string `json:"auditLogPath"`
	AuditLogLevel              string `json:"auditLogLevel"`
	SecurityViolationLogPath   string `json:"securityViolationLogPath"`
	EnableSecurityAlerts       bool   `json:"enableSecurityAlerts"`
	SecurityAlertWebhook       string `json:"securityAlertWebhook"`
	SecurityAlertWebhookSecret string `json:"securityAlertWebhookSecret"`
	AuditSigningKeyFile        string `json:"auditSigningKeyFile"` // SPEC 7.2: signed checkpoints

	// 3.13 Confirmation
	RequireConfirmation        bool     `json:"requireConfirmation"`
	RequireConfirmationFor     []string `json:"requireConfirmationFor"`
	AutoApproveAfterCount      int      `json:"autoApproveAfterCount"`
	ConfirmationTimeoutSeconds int64    `json:"confirmationTimeoutSeconds"`
	// ApprovalMode is how a human is asked (SPEC 7.5): "client" (MCP
	// elicitation or the multi-round-trip input request) or "url" (a
	// one-time link to the server's own approval page, where the person
	// enters the approver token whose hex SHA-256 is ApproverTokenSha256).
	ApprovalMode        string `json:"approvalMode"`
	ApproverTokenSha256 string `json:"approverTokenSha256"`

	// 3.14 Time windows
	AllowedTimeWindows []string `json:"allowedTimeWindows"`
	BlockedTimeWindows []string `json:"blockedTimeWindows"`
	TimeZone           string   `json:"timeZone"`

	// 3.15 Advanced
	EnableMAC          bool     `json:"enableMAC"`
	MacProfile         string   `json:"macProfile"`
	DropCapabilities   []string `json:"dropCapabilities"`
	KeepCapabilities   []string `json:"keepCapabilities"`
	ReadOnlyFilesystem bool     `json:"readOnlyFilesystem"`
	TmpfsSize          int64    `json:"tmpfsSize"`
	WritablePaths      []string `json:"writablePaths"`
	Landlock           bool     `json:"landlock"`

	// 7.1 Who the children are
	HiddenPaths []string `json:"hiddenPaths"`
	RunAsUser   Account  `json:"runAsUser,omitzero"`
	RunAsGroup  Account  `json:"runAsGroup,omitzero"`

	// 7.1a A private view of the host. AllowUnixSockets lets children
	// create AF_UNIX sockets (socket(2)); false (the default) refuses them
	// with EPERM by the always-on seccomp baseline, socketpair(2) excepted.
	AllowUnixSockets bool `json:"allowUnixSockets"`

	// 4 Identity (HTTP)
	Agents []Agent `json:"agents"`
	// HTTPSessionIdleSeconds closes an HTTP session after this many
	// seconds without a request (SPEC 7.2).
	HTTPSessionIdleSeconds int64 `json:"httpSessionIdleSeconds"`

	// scopeFallback is why Load chose "launch" for an unset
	// executablePolicyScope ("" when the scope was set, or is "tree").
	scopeFallback string
}

// Executable policy scopes (executablePolicyScope).
const (
	ScopeTree   = "tree"
	ScopeLaunch = "launch"
)

// ScopeFallback says why the executable policy holds for the launched file
// only although the configuration did not ask for that: the host has no
// Landlock, so Load fell back from the default "tree" to "launch". It is ""
// when executablePolicyScope was set, or is "tree". The server prints it at
// start; doctor and process_get_policy show it.
func (c *Config) ScopeFallback() string { return c.scopeFallback }
