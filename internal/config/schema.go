package config

import (
	"fmt"
	"reflect"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// keyDoc describes one key for the JSON Schema.
type keyDoc struct {
	desc    string
	min     int64 // minimum for numbers (0 or 1)
	enum    []string
	format  string
	pattern string
}

// keyDocs describes every key, by key path. Schema panics on a field without
// an entry, so a new key cannot ship undocumented.
var keyDocs = map[string]keyDoc{
	"allowedExecutables":           {desc: "Executables that may run: bare names (matched against the resolved file's basename), absolute paths or globs (matched against the resolved real path). Empty means nothing may run."},
	"blockSetuidExecutables":       {desc: "Refuse executables with the setuid or setgid bit. Every child also runs with no_new_privs."},
	"blockShellInterpreters":       {desc: "Refuse shells (sh, bash, dash, ash, zsh, fish, csh, tcsh, ksh, mksh, busybox, toybox), including scripts whose #! names one and renamed copies."},
	"additionalBlockedExecutables": {desc: "Executable names blocked in addition to the built-in blocklist (case-insensitive)."},
	"searchPath":                   {desc: "PATH-style list of absolute directories where bare executable names are resolved (the agent's PATH is never used)."},
	"executablePolicyScope":        {desc: "Where the executable policy holds: \"tree\" (every process a launch starts may exec only the allowed files, their #! interpreters, the dynamic loader and helpers; Landlock), or \"launch\" (only the launched file is checked). \"\" or absent: \"tree\" where the host has Landlock, else \"launch\" with a warning; \"tree\" on a host without Landlock is refused.", enum: []string{"", ScopeTree, ScopeLaunch}},
	"helperExecutables":            {desc: "Absolute paths or globs (path.Match syntax) of files that processes of a tree may exec in the \"tree\" scope but that no agent may launch. Always-blocked files, shells while they are blocked and setuid files while they are blocked are left out."},

	"maxArgumentCount":        {desc: "Maximum number of arguments per launch; 0 = no limit.", min: 0},
	"maxArgumentLength":       {desc: "Maximum length of one argument in bytes; 0 = no limit.", min: 0},
	"blockedArgumentPatterns": {desc: "Go RE2 regular expressions; an argument matching one as a whole is refused."},
	"blockInjectionPatterns":  {desc: "Refuse arguments containing $(, backtick, |, ;, &, newline, ../ or ..\\ (seed compatibility; no shell ever parses arguments)."},

	"additionalBlockedEnvVars": {desc: "Environment variable names blocked in addition to the built-in list (case-insensitive)."},
	"allowedEnvVars":           {desc: "When non-empty, the only environment variable names a request may set."},
	"maxEnvVarCount":           {desc: "Maximum number of environment variables a request may set; 0 = no limit.", min: 0},
	"inheritEnvVars":           {desc: "Names copied from the server's own environment into every child (default none)."},

	"allowedWorkingDirectories": {desc: "Absolute directories (and their subdirectories) a process may run in; compared after resolving symlinks."},
	"blockedWorkingDirectories": {desc: "Absolute directories (and their subdirectories) no process may run in; blocked wins over allowed."},

	"defaultResourceLimits":             {desc: "Limits applied when a request omits them; members merge per key over the defaults."},
	"maximumResourceLimits":             {desc: "The highest limits a request may ask for; a member that is 0 or absent means no maximum."},
	"resourceLimits.maxCpuPercent":      {desc: "Share of one CPU core in percent (cgroup CPU quota); 0 = not set.", min: 0},
	"resourceLimits.maxMemoryMB":        {desc: "Memory of the whole process tree in MiB (cgroup, OOM-kill); 0 = not set.", min: 0},
	"resourceLimits.maxFileDescriptors": {desc: "Open file descriptors per process (RLIMIT_NOFILE); 0 = not set.", min: 0},
	"resourceLimits.maxCpuTime":         {desc: "CPU seconds (RLIMIT_CPU per process, the tree's cgroup CPU usage watched); 0 = not set.", min: 0},
	"resourceLimits.maxProcesses":       {desc: "Processes and threads in the tree (cgroup pids); 0 = not set.", min: 0},
	"strictResourceEnforcement":         {desc: "Refuse a launch whose limits the kernel cannot enforce here, and kill the whole tree at once (SIGKILL) on a violation."},

	"maxConcurrentProcesses":         {desc: "Processes running at once, all agents together; 0 = no limit.", min: 0},
	"maxConcurrentProcessesPerAgent": {desc: "Processes running at once per agent; 0 = no per-agent limit.", min: 0},
	"maxProcessLifetime":             {desc: "Seconds any process may run before it is killed; a request's timeout may only shorten it.", min: 1},
	"maxTotalProcesses":              {desc: "Launches over the server's life; 0 = no limit.", min: 0},
	"exitedRetentionSeconds":         {desc: "Seconds an exited process's status and output stay readable; 0 = forgotten at exit.", min: 0},

	"maxLaunchesPerMinute":     {desc: "Launches per agent in any 60-second window; 0 = no limit.", min: 0},
	"maxLaunchesPerHour":       {desc: "Launches per agent in any 3600-second window; 0 = no limit.", min: 0},
	"rateLimitCooldownSeconds": {desc: "Seconds an agent is refused after exceeding a rate limit; 0 = no cooldown.", min: 0},

	"allowProcessTermination":        {desc: "Allow process_terminate on the agent's own processes."},
	"allowGroupTermination":          {desc: "Allow process_terminate_group."},
	"allowForcedTermination":         {desc: "Allow force (SIGKILL) on request."},
	"requireTerminationConfirmation": {desc: "A human confirms every termination requested by an agent (process_terminate, process_terminate_group, process_stop_service; see approvalMode)."},

	"allowStdinInput":        {desc: "Allow process_send_stdin."},
	"allowOutputCapture":     {desc: "Capture stdout/stderr; when false, output goes to /dev/null."},
	"maxOutputBufferSize":    {desc: "Bytes kept per stream (ring buffer); older bytes are dropped and counted.", min: 1},
	"maxRetainedOutputBytes": {desc: "Bytes of captured output the server keeps for all processes together; past it the oldest exited processes' output is dropped first (their status stays).", min: 1},
	"blockBinaryStdin":       {desc: "Refuse stdin data with NUL, invalid UTF-8 or control characters other than tab, newline and carriage return, and refuse base64 encoding."},

	"enableChroot":       {desc: "Run children inside chrootDirectory."},
	"chrootDirectory":    {desc: "Absolute path of the jail's root (used with enableChroot)."},
	"enableNamespaces":   {desc: "Give children new Linux namespaces as selected by namespaces."},
	"namespaces":         {desc: "Which namespaces a child gets (used with enableNamespaces)."},
	"namespaces.pid":     {desc: "New PID namespace with its own /proc."},
	"namespaces.network": {desc: "New network namespace (loopback only)."},
	"namespaces.mount":   {desc: "New mount namespace."},
	"namespaces.uts":     {desc: "New UTS namespace (hostname)."},
	"namespaces.ipc":     {desc: "New IPC namespace."},
	"namespaces.user":    {desc: "New user namespace."},
	"enableSeccomp":      {desc: "Filter the child's system calls with seccompProfile."},
	"seccompProfile":     {desc: "Seccomp profile: strict, moderate or permissive; required when enableSeccomp is true (\"\" = none).", enum: append([]string{""}, SeccompProfiles...)},

	"blockNetworkAccess":         {desc: "Children get an empty network namespace (loopback only): no TCP, UDP, ICMP or raw socket reaches outside."},
	"allowedNetworkDestinations": {desc: "Destinations reachable through the egress proxy (hosts, *.wildcards, IPs, CIDRs, optional :port); children get an empty network namespace with the proxy's listeners inside it."},
	"blockedNetworkDestinations": {desc: "Destinations never reachable, checked on the resolved IP too; blocked wins. Without blockNetworkAccess and allowedNetworkDestinations, every other destination goes through the proxy."},

	"enableAuditLog":             {desc: "Write the hash-chained JSONL audit log."},
	"auditLogPath":               {desc: "Absolute path of the audit log; default $XDG_STATE_HOME/mcp-process/audit.log, else ~/.local/state/mcp-process/audit.log."},
	"auditLogLevel":              {desc: "Lowest level recorded: debug (also reads), info (launches, exits, terminations, stdin, config), warn (violations), error.", enum: AuditLogLevels},
	"securityViolationLogPath":   {desc: "Absolute path of the separate security-violation log; default security-violations.log beside the audit log."},
	"enableSecurityAlerts":       {desc: "Raise an alert for every security violation (POSTed to securityAlertWebhook when set, else recorded in the violation log only)."},
	"securityAlertWebhook":       {desc: "http(s) URL alerts are POSTed to; requires securityAlertWebhookSecret.", format: "uri"},
	"auditSigningKeyFile":        {desc: "Absolute path of a key readable by the server only (mode 0600): an Ed25519 private key (PEM) or an HMAC-SHA256 key of at least 32 bytes. The audit and violation logs then get a signed checkpoint every 100 records and at shutdown, and a signed head, so `audit verify --key` detects a rewritten chain."},
	"securityAlertWebhookSecret": {desc: "HMAC-SHA256 key signing each alert (header X-MCP-Process-Signature). Redacted wherever the policy is shown."},

	"requireConfirmation":        {desc: "A human confirms every launch, services included (see approvalMode)."},
	"requireConfirmationFor":     {desc: "Executables whose launches a human confirms: bare names, paths or globs, matched as allowedExecutables matches."},
	"autoApproveAfterCount":      {desc: "After this many approved launches of the same executable by the same agent, stop asking; 0 = always ask.", min: 0},
	"confirmationTimeoutSeconds": {desc: "Seconds to wait for a human's answer; no answer means no.", min: 1},
	"approvalMode":               {desc: "How a human is asked: client (MCP form elicitation, or the multi-round-trip input request on 2026-07-28 sessions) or url (a one-time link to the server's approval page, which asks for the approver token).", enum: ApprovalModes},
	"approverTokenSha256":        {desc: "Hex SHA-256 of the token a person enters on the approval page; required with approvalMode url. Redacted wherever the policy is shown."},

	"allowedTimeWindows": {desc: "Windows in which launches are allowed: \"DAYS TIMES [ZONE]\", e.g. \"Mon-Fri 09:00-17:00\"."},
	"blockedTimeWindows": {desc: "Windows in which launches are refused; blocked wins."},
	"timeZone":           {desc: "IANA zone for windows that name none (default: the server's local zone)."},

	"enableMAC":          {desc: "Run children under an AppArmor profile or SELinux context."},
	"macProfile":         {desc: "AppArmor profile or SELinux context (required with enableMAC)."},
	"dropCapabilities":   {desc: "Capabilities removed from every set (\"ALL\" allowed)."},
	"keepCapabilities":   {desc: "Capabilities kept when the server runs as root."},
	"readOnlyFilesystem": {desc: "Children see every mount read-only except a private /tmp and writablePaths."},
	"tmpfsSize":          {desc: "Size of the private /tmp in MiB with readOnlyFilesystem; 0 = not set (the kernel default, half of RAM).", min: 0},
	"writablePaths":      {desc: "Absolute paths left writable under readOnlyFilesystem or landlock."},
	"landlock":           {desc: "Confine the children's writes with Landlock to the allowed working directories, /tmp, the agent's HOME, writablePaths and the usual devices; default true where the kernel has Landlock."},

	"hiddenPaths": {desc: "Absolute paths (files or directories) every child sees as unreadable and empty, besides the server user's credential locations (~/.ssh, ~/.aws, ...)."},
	"runAsUser":   {desc: "User the children of a root server run as: a name from /etc/passwd or a numeric uid; default 65534 (nobody). 0 needs namespaces.user. A non-root server's children run as the server: only its own uid is accepted."},
	"runAsGroup":  {desc: "Group the children of a root server run as: a name from /etc/group or a numeric gid; default the primary group of runAsUser, else 65534. Supplementary groups are always cleared."},

	"allowUnixSockets": {desc: "Let children create unix sockets (socket(AF_UNIX)): connect to or listen on any pathname or abstract socket they can reach — the D-Bus buses (a same-uid child can ask systemd --user to run anything outside the sandbox), docker.sock, ssh-agent, gpg-agent, X11, databases. false (default): socket(AF_UNIX) fails with EPERM in every child (seccomp baseline); socketpair(AF_UNIX) still works."},

	"agents":                 {desc: "HTTP bearer-token agents; each token maps to an agent id."},
	"agents.id":              {desc: "The agent's id (non-empty, unique)."},
	"httpSessionIdleSeconds": {desc: "Seconds without a request after which an HTTP session is closed (its id then answers 404).", min: 1},
	"agents.tokenSha256":     {desc: "Hex SHA-256 of the agent's bearer token (64 hex characters). Redacted wherever the policy is shown.", pattern: "^[0-9a-fA-F]{64}$"},
}

// annotationDocs describe the keys Decode accepts and ignores.
var annotationDocs = map[string]string{
	"$schema":     "Ignored by the server: the URL or path of this schema, for editors (e.g. a file written by `mcp-process schema`).",
	"$comment":    "Ignored by the server: a comment for readers.",
	"description": "Ignored by the server: a description for readers.",
}

// SchemaID is the schema's $id.
const SchemaID = "https://github.com/mcp-process/mcp-process/config.schema.json"

// Schema returns the configuration's JSON Schema (draft 2020-12): every key
// with its type, enum, minimum, default and description, and
// additionalProperties false on every object. It is generated from the
// Config type, so it cannot drift from the decoder.
func Schema() []byte {
	def := defaults(func(string) string { return "" })
	root := objectSchema(reflect.TypeFor[Config](), "", reflect.ValueOf(def).Elem())
	props := root["properties"].(map[string]any)
	for _, k := range AnnotationKeys {
		props[k] = map[string]any{"type": "string", "description": annotationDocs[k]}
	}
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "mcp-process configuration"
	root["description"] = "Policy of the mcp-process MCP server. Unknown keys, duplicate keys and null values are refused."
	out, err := json.Marshal(root, json.Deterministic(true), jsontext.WithIndent("  "))
	if err != nil {
		panic(err)
	}
	return append(out, '\n')
}

// docPrefix maps a struct type to the prefix of its members' keyDocs entries.
func docPrefix(t reflect.Type, parent string) string {
	switch t {
	case reflect.TypeFor[ResourceLimits]():
		return "resourceLimits."
	case reflect.TypeFor[Config]():
		return ""
	}
	return parent + "."
}

func objectSchema(t reflect.Type, parent string, def reflect.Value) map[string]any {
	props := map[string]any{}
	prefix := docPrefix(t, parent)
	for i := range t.NumField() {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		var fdef reflect.Value
		if def.IsValid() {
			fdef = def.Field(i)
		}
		props[name] = fieldSchema(f.Type, prefix+name, fdef)
	}
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

func fieldSchema(t reflect.Type, key string, def reflect.Value) map[string]any {
	doc, ok := keyDocs[key]
	if !ok {
		panic(fmt.Sprintf("config: key %q has no entry in keyDocs", key))
	}
	var s map[string]any
	switch t.Kind() {
	case reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case reflect.String:
		s = map[string]any{"type": "string"}
		if t == reflect.TypeFor[Account]() {
			s = map[string]any{"oneOf": []any{
				map[string]any{"type": "string", "minLength": 1},
				map[string]any{"type": "integer", "minimum": 0, "maximum": 1<<32 - 2},
			}}
		}
	case reflect.Int, reflect.Int64:
		s = map[string]any{"type": "integer", "minimum": doc.min}
	case reflect.Float64:
		s = map[string]any{"type": "number", "minimum": doc.min}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			s = map[string]any{"type": "array", "items": map[string]any{"type": "string"}}
		} else {
			item := objectSchema(t.Elem(), strings.TrimSuffix(key, "[]"), reflect.Value{})
			if t.Elem() == reflect.TypeFor[Agent]() {
				item["required"] = []string{"id", "tokenSha256"}
			}
			s = map[string]any{"type": "array", "items": item}
		}
	case reflect.Struct:
		s = objectSchema(t, key, def)
	default:
		panic(fmt.Sprintf("config: key %q has an unsupported type %v", key, t))
	}
	s["description"] = doc.desc
	if doc.enum != nil {
		s["enum"] = doc.enum
	}
	if doc.format != "" {
		s["format"] = doc.format
	}
	if doc.pattern != "" {
		s["pattern"] = doc.pattern
	}
	if def.IsValid() && t.Kind() != reflect.Struct && t != reflect.TypeFor[Account]() && key != "auditLogPath" && key != "securityViolationLogPath" {
		v := def.Interface()
		if t.Kind() == reflect.Slice && def.Len() == 0 {
			v = []any{}
		}
		s["default"] = v
	}
	return s
}
