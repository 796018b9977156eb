package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
	"github.com/mcp-process/mcp-process/internal/selfprotect"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// commonFlags are the flags every config-reading subcommand takes.
type commonFlags struct {
	config  string
	profile string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "config `FILE` (JSON)")
	fs.StringVar(&c.profile, "profile", "", "built-in preset: maximum, development or cicd")
}

// logFlags are the server's own log settings (serve, run): it goes to
// stderr, never stdout.
type logFlags struct {
	level, format string
}

func (l *logFlags) register(fs *flag.FlagSet, defaultLevel string) {
	fs.StringVar(&l.level, "log-level", defaultLevel, "the server's stderr log: debug, info, warn or error")
	fs.StringVar(&l.format, "log-format", "text", "the server's stderr log: text or json (one JSON object per line)")
}

// logger builds the stderr logger the flags ask for; a bad value is a
// usage error (exit 2) naming the flag.
func (l *logFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(l.level) {
	case "debug":
		level = slog.LevelDebug
	case "info":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, exitf(2, "--log-level %q: use debug, info, warn or error", l.level)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch l.format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, exitf(2, "--log-format %q: use text or json", l.format)
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return helpText(flagHelp(fs))
		}
		return exitf(2, "%s: %v (see mcp-process %s --help)", fs.Name(), err, fs.Name())
	}
	return nil
}

// helpText is a subcommand's --help: printed on stdout, exit 0.
type helpText string

func (h helpText) Error() string { return string(h) }

// flagHelp lists fs's flags, one line each.
func flagHelp(fs *flag.FlagSet) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage: mcp-process %s [flags]", fs.Name())
	if strings.Contains(subcommandArgs[fs.Name()], "--") {
		b.WriteString(" -- EXECUTABLE ARGS...")
	}
	b.WriteString("\n\nFlags:\n")
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if name != "" {
			arg += " " + name
		}
		line := fmt.Sprintf("  %-24s %s", arg, usage)
		if f.DefValue != "" && f.DefValue != "false" {
			line += " (default " + f.DefValue + ")"
		}
		b.WriteString(line + "\n")
	})
	return b.String()
}

// subcommandArgs says which subcommands take "-- EXECUTABLE ARGS...".
var subcommandArgs = map[string]string{"check": "--", "run": "--"}

// loadPolicy loads and validates the config and compiles the policy. Any
// failure is exit code 2 with the key and the remedy.
func loadPolicy(f commonFlags) (*config.Loaded, *policy.Policy, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, exitf(2, "cannot read the current directory: %v", err)
	}
	loaded, err := config.Load(config.LoadOptions{ConfigPath: f.config, Profile: f.profile, Cwd: cwd})
	if err != nil {
		return nil, nil, exitf(2, "%v", err)
	}
	if err := clearWatchedSource(loaded); err != nil {
		return nil, nil, err
	}
	sealPolicyFiles(loaded, cwd)
	pol, err := policy.New(loaded.Config)
	if err != nil {
		return nil, nil, exitf(2, "config from %s: %v", loaded.Source, err)
	}
	// The tree scope's list must be buildable now, not fail every launch.
	if loaded.Config.ExecutablePolicyScope == config.ScopeTree {
		if iso, err := isolationOf(loaded.Config); err != nil && iso.ExecPaths == nil {
			return nil, nil, exitf(2, "config from %s: executablePolicyScope \"tree\": %v", loaded.Source, err)
		}
	}
	// The network keys need a network namespace for every child: a server
	// that cannot give one refuses to start rather than every launch.
	if loaded.Config.NetworkMode() != config.NetworkOpen {
		if _, err := isolationOf(loaded.Config); err != nil {
			return nil, nil, exitf(2, "config from %s: %v", loaded.Source, err)
		}
	}
	return loaded, pol, nil
}

// prepareHomes creates the root of the agents' HOME directories and
// checks that the children can reach it (SPEC 7.1a): a server whose
// children could not is refused at start (exit 2), not at every launch.
func prepareHomes(cfg *config.Config, pol *policy.Policy) error {
	root := pol.HomesRoot()
	if root == "" {
		return nil // enableChroot: HOME=/ inside the jail
	}
	iso, _ := isolationOf(cfg)
	if err := agenthome.Prepare(root, iso.HomeOwner()); err != nil {
		return exitf(2, "the agents' HOME directories: %v", err)
	}
	return nil
}

var isolations struct {
	sync.Mutex
	m map[*config.Config]isolationResult
}

type isolationResult struct {
	iso sandbox.Isolation
	err error
}

// isolationOf builds the isolation of a loaded configuration once per
// process (building it lists the files of the tree scope): every command
// reports and uses the same. cfg is never modified after config.Load.
func isolationOf(cfg *config.Config) (sandbox.Isolation, error) {
	isolations.Lock()
	defer isolations.Unlock()
	if r, ok := isolations.m[cfg]; ok {
		return r.iso, r.err
	}
	iso, err := sandbox.IsolationFor(cfg)
	if files, ok := sealedFiles.Load(cfg); ok && len(iso.Private) > 0 {
		iso.Sealed = files.([]string)
	}
	if cfg.AuditSigningKeyFile != "" && len(iso.Private) > 0 {
		// The key that signs the audit log is unreadable to every child,
		// whatever its uid (SPEC 7.2: "readable only by the server").
		iso.Hide(cfg.AuditSigningKeyFile)
	}
	if isolations.m == nil {
		isolations.m = map[*config.Config]isolationResult{}
	}
	isolations.m[cfg] = isolationResult{iso, err}
	return iso, err
}

// openAudit opens the audit log of cfg and writes the config_loaded record.
// A log that cannot be opened or written refuses start (exit 2).
func openAudit(loaded *config.Loaded, agent string) (*audit.Log, error) {
	cfg := loaded.Config
	opts := audit.Options{
		Path:     cfg.AuditLogPath,
		Level:    cfg.AuditLogLevel,
		Disabled: !cfg.EnableAuditLog,
		// Past maxLaunchesPerMinute denials in a minute, an agent's further
		// denials are summarised (SPEC 7.2); without a launch limit (0) the
		// log is still bounded, at the key's default.
		DenialsPerWindow: cfg.MaxLaunchesPerMinute,
	}
	if opts.DenialsPerWindow == 0 {
		opts.DenialsPerWindow = config.Defaults().MaxLaunchesPerMinute
	}
	// The violation log goes with the audit log, or with alerts (which,
	// without a webhook, are recorded there only).
	if cfg.EnableAuditLog || cfg.EnableSecurityAlerts {
		opts.ViolationPath = cfg.SecurityViolationLogPath
		if opts.ViolationPath == "" {
			opts.ViolationPath = audit.DefaultViolationPath(cfg.AuditLogPath)
		}
	}
	if cfg.AuditSigningKeyFile != "" {
		key, err := audit.LoadSigningKey(cfg.AuditSigningKeyFile)
		if err != nil {
			return nil, exitf(2, "auditSigningKeyFile: %v (fix the key file or remove auditSigningKeyFile)", err)
		}
		opts.SigningKey = key
	}
	if cfg.EnableSecurityAlerts {
		opts.Alerts = &audit.AlertOptions{URL: cfg.SecurityAlertWebhook, Secret: cfg.SecurityAlertWebhookSecret}
	}
	log, err := audit.Open(opts)
	if err != nil {
		return nil, exitf(2, "audit log: %v (check auditLogPath; set enableAuditLog to false to run without one)", err)
	}
	if err := log.Record(audit.Record{Level: audit.LevelInfo, Event: audit.EventConfigLoaded, Agent: agent, Reason: "config from " + loaded.Source}); err != nil {
		log.Close()
		return nil, exitf(2, "audit log %s cannot be written: %v", cfg.AuditLogPath, err)
	}
	return log, nil
}

// layerStates says, per enforcement layer, whether this build and host
// enforce it (validate, doctor, process_get_policy): the registry's report
// (config.LayerStates), with the host's states, then what every child
// gets. cg may be nil (not detected).
func layerStates(cfg *config.Config, cg *cgroup.Manager) map[string]string {
	iso, err := isolationOf(cfg)
	m := cfg.LayerStates(func(l layer.Layer) (string, bool) {
		switch l {
		case layer.ResourceLimits:
			return resourceLimitsState(cg), true
		case layer.TreeKill:
			return treeKillState(cfg, cg), true
		case layer.Network: // SPEC 7.5: blocked, allowlist via proxy, loopback only or unrestricted.
			return iso.NetworkState(), err == nil
		}
		return "", false
	})
	// What every child gets, in the init stage's order.
	if err != nil {
		m["isolation"] = "every launch fails: " + err.Error()
	} else {
		m["isolation"] = strings.Join(append(iso.Layers(), layer.Describe(layer.Capabilities), layer.Describe(layer.NoNewPrivs)), "; ")
		m["children"] = iso.Identity.Describe()
		// SPEC 7.1a: the seccomp baseline, in every child whatever enableSeccomp says.
		switch {
		case iso.Seccomp == nil:
			m["seccomp-baseline"] = "missing on this host (see missingGuarantees)"
		case cfg.AllowUnixSockets:
			m["seccomp-baseline"] = "enforced: no AF_VSOCK sockets, no io_uring; unix sockets allowed (allowUnixSockets)"
		default:
			m["seccomp-baseline"] = "enforced: no socket(AF_UNIX) (socketpair allowed; allowUnixSockets), no AF_VSOCK sockets, no io_uring"
		}
	}
	if missing := missingGuarantees(cfg); len(missing) > 0 {
		m["missingGuarantees"] = strings.Join(missing, "; ")
	} else {
		m["missingGuarantees"] = "none"
	}
	m["executable-scope"] = executableScopeState(cfg, iso, err)
	m["home"] = homeState(cfg, iso)
	return m
}

// homeState says where the children's HOME is and what keeps agents out
// of each other's (SPEC 7.1a; docs/environment.md).
func homeState(cfg *config.Config, iso sandbox.Isolation) string {
	if cfg.EnableChroot && !cfg.ComposedJail() {
		return "HOME=/ inside the jail (enableChroot: no per-agent home)"
	}
	root := agenthome.DefaultRoot(os.Getenv, os.Geteuid() == 0)
	if root == "" {
		return "none: the server's environment has neither XDG_STATE_HOME nor HOME (the server refuses to start)"
	}
	s := "per agent, " + filepath.Join(root, "<agent>") + ", mode 0700, owned by the children; "
	if cfg.Landlock {
		return s + "agents whose children share a uid can read each other's home, not write it (landlock)"
	}
	return s + "agents whose children share a uid can read and write each other's home (set landlock to confine writes)"
}

// missingGuarantees names each guarantee of SPEC 7.1 that this host cannot
// give with cfg (with landlock off, the policy's files a child can replace) (said at start on stderr, by doctor and process_get_policy).
func missingGuarantees(cfg *config.Config) []string {
	var out []string
	if err := selfprotect.Err(); err != nil {
		out = append(out, "the server could not be made non-dumpable: "+err.Error())
	}
	if iso, err := isolationOf(cfg); err == nil {
		out = append(out, iso.Missing...)
		if m := exposedPolicyFiles(cfg, &iso); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// executableScopeState says where the executable policy holds (SPEC 7.1).
func executableScopeState(cfg *config.Config, iso sandbox.Isolation, err error) string {
	switch {
	case cfg.ExecutablePolicyScope == config.ScopeTree && err != nil:
		return "tree: every launch fails: " + err.Error()
	case cfg.ExecutablePolicyScope == config.ScopeTree:
		return fmt.Sprintf("tree: every process of a launch's tree may exec only %d files (allowed executables, their #! interpreters, dynamic loader, helpers; Landlock EXECUTE)", len(iso.ExecPaths))
	case cfg.ScopeFallback() != "":
		return "launch (fallback): " + cfg.ScopeFallback()
	}
	return "launch: only the launched file is checked; the programs it starts may exec any file they can reach (executablePolicyScope \"launch\")"
}

// detectCgroups chooses the cgroup layout once (v2, v1, hybrid or none).
// A host without usable cgroups is not an error: the limits it cannot
// enforce are reported per launch, and refused in strict mode.
func detectCgroups() (*cgroup.Manager, error) {
	m, err := cgroup.Detect(cgroup.DetectOptions{})
	if err != nil {
		return nil, exitf(2, "cgroups: %v", err)
	}
	return m, nil
}

// treeKillState describes what holds a launched tree when the server dies.
// Without cgroups, a launch in a PID namespace is still held: its init
// (the launched process) gets SIGKILL when the server dies (Pdeathsig) and
// the kernel then kills the rest of the namespace.
func treeKillState(cfg *config.Config, cg *cgroup.Manager) string {
	if cg == nil {
		return "decided at server start (see mcp-process doctor)"
	}
	how, ok := cg.TreeHold()
	if ok {
		return "enforced by " + how
	}
	if cfg != nil && cfg.EnableNamespaces && cfg.Namespaces.PID {
		return "enforced by each launch's PID namespace (its init dies with the server: Pdeathsig; the kernel kills the rest); no cgroup: " + how
	}
	return "missing: " + how + "; a process that leaves its process group (setsid, double fork) can outlive a server that is killed (SIGKILL, crash); a PID namespace (namespaces.pid) would hold it"
}

// holdTrees starts the watchdog that kills every launched tree when the
// server dies (a failure to start it refuses the start: launches, which
// re-execute the same binary, could not work either), logs the groups of
// dead servers that Detect removed, and says on stderr, in one line, when
// nothing holds a whole tree on this host.
func holdTrees(cfg *config.Config, cg *cgroup.Manager, logger *slog.Logger) error {
	if err := cg.StartWatchdog(); err != nil {
		return exitf(1, "cannot start the watchdog that kills every child when the server dies: %v", err)
	}
	if swept := cg.Swept(); len(swept) > 0 {
		logger.Info("removed the cgroups of dead servers (their processes killed)", "groups", strings.Join(swept, " "))
	}
	if _, ok := cg.TreeHold(); !ok {
		logger.Warn("tree kill on server death: " + treeKillState(cfg, cg) + " (mcp-process doctor: " + layer.TreeKill.String() + ")")
	}
	return nil
}

// newSupervisor builds the supervisor with the policy as the authority for
// the launches it makes by itself (health checks).
func newSupervisor(cfg *config.Config, pol *policy.Policy, rec audit.Recorder, cg *cgroup.Manager, onOutput func(int, string), onState func(string, int, bool)) *supervisor.Supervisor {
	iso, _ := isolationOf(cfg) // an error stays in iso: every launch fails with it
	return supervisor.New(supervisor.Options{
		Isolation:     &iso,
		Config:        cfg,
		Audit:         rec,
		Cgroups:       cg,
		OnStateChange: onState,
		Authorize: func(agent string, req policy.Request) (*policy.Spec, *errcode.Error) {
			d := pol.Evaluate(req, timeNow())
			if !d.Allow {
				return nil, d.Err
			}
			return d.Spec, nil
		},
		OnOutput: onOutput,
		Egress:   newEgress(cfg, rec),
	})
}

func describeErr(e *errcode.Error) string {
	s := fmt.Sprintf("%s [%s] %s", e.Code, e.Layer, e.Message)
	if e.Remedy != "" {
		s += "\n  remedy: " + e.Remedy
	}
	return s
}

// resourceLimitsState describes how resource limits are enforced here.
func resourceLimitsState(cg *cgroup.Manager) string {
	const rl = "maxFileDescriptors and maxCpuTime: rlimits in the init stage; core dumps off"
	if cg == nil {
		return rl + "; memory, processes and CPU% by cgroups, whose layout is chosen at server start (see mcp-process doctor)"
	}
	cs := cg.Support()
	var on, off []string
	for _, c := range []struct {
		name string
		ok   bool
		key  string
	}{{"maxMemoryMB", cs.Memory, "memory"}, {"maxProcesses", cs.Pids, "pids"}, {"maxCpuPercent", cs.CPU, "cpu"},
		{"tree CPU time", cs.CPUUsage, "cpuusage"}, {"tree kill", cs.Kill, "kill"}} {
		if c.ok {
			on = append(on, c.name)
		} else {
			off = append(off, c.name+" ("+cs.Reasons[c.key]+")")
		}
	}
	s := rl + "; cgroup " + cs.Version
	if len(on) > 0 {
		s += ": " + strings.Join(on, ", ")
	}
	if len(off) > 0 {
		s += "; not enforced here: " + strings.Join(off, ", ")
	}
	return s
}
