package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Environment variables and file names of the config source precedence
// (SPEC 1).
const (
	EnvConfigPath = "MCP_PROCESS_CONFIG_PATH"
	EnvConfigJSON = "MCP_PROCESS_CONFIG"
	LocalFile     = "mcp-process-config.json"
	LocalDirFile  = "config/mcp-process.json"
)

// LoadOptions says where Load looks.
type LoadOptions struct {
	// ConfigPath is the --config FILE flag ("" = not given). A relative path
	// is taken relative to Cwd.
	ConfigPath string
	// Profile is the --profile flag ("" = none): the base the configuration
	// is laid over, or the whole configuration when no source is found.
	Profile string
	// Getenv reads the environment (nil = os.Getenv).
	Getenv func(string) string
	// Cwd is the directory the server was started in ("" = os.Getwd()).
	Cwd string
	// ReadFile reads a file (nil = os.ReadFile).
	ReadFile func(string) ([]byte, error)
}

// Loaded is a configuration ready to use, and where it came from.
type Loaded struct {
	Config *Config
	// Source describes where the configuration came from, e.g.
	// `file /etc/mcp-process.json (--config)`, `environment MCP_PROCESS_CONFIG`,
	// `built-in default`, `profile maximum`; with a profile as the base it
	// reads `profile cicd + file ...`.
	Source string
	// Path is the file read, "" when the configuration is not from a file.
	Path string
	// Profile is the preset used as the base ("" = the built-in defaults).
	Profile string
	// Explicit is the set of keys the source document set (empty when there
	// is no document).
	Explicit Explicit
	// Local is true when Path is a local source found in the start
	// directory (not given by --config or MCP_PROCESS_CONFIG_PATH).
	Local bool
	// StartDirectory is true when allowedWorkingDirectories was absent or
	// empty and is the directory the server was started in (SPEC 7.3).
	StartDirectory bool
}

// Load finds the configuration (first found wins: --config FILE, env
// MCP_PROCESS_CONFIG_PATH, env MCP_PROCESS_CONFIG as JSON text,
// ./mcp-process-config.json, ./config/mcp-process.json, then the profile
// alone if --profile was given, else the built-in default), lays it over the
// per-key defaults or the profile, fills derived defaults and validates it.
// An absent or empty allowedWorkingDirectories becomes the directory the
// server was started in (Cwd); started in "/", that is an error naming the
// key.
// A source that exists but cannot be read, parsed or validated is an error:
// Load never falls through to a lower source. Errors are *Error.
func Load(opts LoadOptions) (*Loaded, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	base, err := baseConfig(opts)
	if err != nil {
		return nil, err
	}
	l := &Loaded{Profile: opts.Profile, Explicit: Explicit{}}
	doc, err := opts.document(l)
	if err != nil {
		return nil, err
	}
	if err := checkConfigFile(l, opts.Getenv); err != nil {
		return nil, err
	}
	cfg, err := l.decode(doc, base, opts)
	if err != nil {
		return nil, err
	}
	if len(cfg.AllowedWorkingDirectories) == 0 {
		if e := startDirectory(opts.Cwd); e != nil {
			return nil, withSource(e, l.Source)
		}
		cfg.AllowedWorkingDirectories = []string{filepath.Clean(opts.Cwd)}
		l.StartDirectory = true
	}
	cfg.resolve(l.Explicit)
	if err := cfg.Validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			fitRemedy(ce, cfg, opts.Profile, doc != nil, l.Explicit)
		}
		return nil, withSource(err, l.Source)
	}
	l.Config = cfg
	return l, nil
}

// baseConfig is what a document's keys apply to: the profile opts names,
// else the defaults.
func baseConfig(opts LoadOptions) (*Config, error) {
	if opts.Profile == "" {
		return defaults(opts.Getenv), nil
	}
	p, err := profile(opts.Profile, opts.Getenv)
	if err != nil {
		return nil, withSource(err, "--profile "+opts.Profile)
	}
	return p, nil
}

// checkConfigFile refuses a config file that someone other than the
// server's user (or root) could write, and, for a local one, a file that
// the watched directories do not allow.
func checkConfigFile(l *Loaded, getenv func(string) string) error {
	if l.Path == "" {
		return nil
	}
	if e := checkWriters(l.Path); e != nil {
		return withSource(e, l.Source)
	}
	if l.Local {
		if e := checkWatched(WatchFor(getenv), l.Path); e != nil {
			return withSource(e, l.Source)
		}
	}
	return nil
}

// decode returns the configuration before the start directory and
// validation: doc's keys over base (l.Explicit says which it set), base
// itself for a profile alone, else the built-in default (its working
// directories left for Load to fill). It sets l.Source.
func (l *Loaded) decode(doc []byte, base *Config, opts LoadOptions) (*Config, error) {
	switch {
	case doc != nil:
		l.Source = sourceName(l)
		explicit, err := Decode(doc, base)
		if err != nil {
			return nil, withSource(err, l.Source)
		}
		l.Explicit = explicit
		return base, nil
	case opts.Profile != "":
		l.Source = "profile " + opts.Profile
		return base, nil
	}
	l.Source = "built-in default"
	cfg := builtinDefault(opts.Cwd, opts.Getenv)
	cfg.AllowedWorkingDirectories = nil // filled by Load, "/" refused
	return cfg, nil
}

// setDefaults fills in Getenv, ReadFile and Cwd when they are not set.
func (opts *LoadOptions) setDefaults() error {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.ReadFile == nil {
		opts.ReadFile = os.ReadFile
	}
	if opts.Cwd == "" {
		wd, err := os.Getwd()
		if err != nil {
			return &Error{Message: fmt.Sprintf("cannot determine the working directory: %v", err), Remedy: "start the server from an existing directory or pass --config", Code: errcode.InvalidInput, Layer: layer.Config.String()}
		}
		opts.Cwd = wd
	}
	return nil
}

// document reads the configuration document from the first source that
// names one (--config, MCP_PROCESS_CONFIG, MCP_PROCESS_CONFIG_JSON, then
// the local files in Cwd), setting l.Path and l.Source; nil when there is
// none.
func (opts *LoadOptions) document(l *Loaded) ([]byte, error) {
	getenv, readFile, cwd := opts.Getenv, opts.ReadFile, opts.Cwd
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(cwd, p)
	}
	var doc []byte
	switch {
	case opts.ConfigPath != "":
		l.Path = abs(opts.ConfigPath)
		l.Source = "file " + l.Path + " (--config)"
		data, err := readFile(l.Path)
		if err != nil {
			return nil, readError(err, l.Source, "--config")
		}
		doc = data
	case getenv(EnvConfigPath) != "":
		l.Path = abs(getenv(EnvConfigPath))
		l.Source = "file " + l.Path + " (" + EnvConfigPath + ")"
		data, err := readFile(l.Path)
		if err != nil {
			return nil, readError(err, l.Source, EnvConfigPath)
		}
		doc = data
	case getenv(EnvConfigJSON) != "":
		l.Source = "environment " + EnvConfigJSON
		doc = []byte(getenv(EnvConfigJSON))
	default:
		for _, name := range []string{LocalFile, LocalDirFile} {
			p := filepath.Join(cwd, name)
			data, err := readFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			l.Path, l.Local = p, true
			l.Source = "file " + p
			if err != nil {
				return nil, readError(err, l.Source, "")
			}
			doc = data
			break
		}
	}
	return doc, nil
}

// startDirectory checks that the directory the server was started in can
// stand for an absent or empty allowedWorkingDirectories (SPEC 7.3): not
// "/" (which would allow every directory on the host).
func startDirectory(cwd string) *Error {
	d := filepath.Clean(cwd)
	if real, err := filepath.EvalSymlinks(d); err == nil {
		d = real
	}
	if d == "/" {
		return invalid("allowedWorkingDirectories",
			"set allowedWorkingDirectories to the directories processes may run in (e.g. [\"/srv/project\"]), or start the server in a project directory",
			"allowedWorkingDirectories is absent or empty, which means the directory the server was started in, and the server was started in /: that would allow every directory")
	}
	return nil
}

func sourceName(l *Loaded) string {
	if l.Profile != "" {
		return "profile " + l.Profile + " + " + l.Source
	}
	return l.Source
}

// resolve fills the defaults derived from other keys or from the host: the
// violation log beside the audit log, the executable policy scope (from
// Landlock's presence), and a built-in default resource limit above a
// configured maximum lowered to it (a default the document set explicitly
// stays, and Validate reports the contradiction).
func (c *Config) resolve(explicit Explicit) {
	if c.SecurityViolationLogPath == "" && filepath.IsAbs(c.AuditLogPath) {
		c.SecurityViolationLogPath = filepath.Join(filepath.Dir(c.AuditLogPath), DefaultSecurityViolationsFile)
	}
	// The seed's configs switch namespaces on with enableNamespaces alone
	// (its cicd example): without a namespaces selection that means the
	// ones that isolate without cutting the network or changing the uid.
	if c.EnableNamespaces && c.Namespaces == (Namespaces{}) && !explicitPrefix(explicit, "namespaces") {
		c.Namespaces = DefaultNamespaces
	}
	// landlock: writes confined wherever the host has Landlock (SPEC
	// 7.1a), unless the document says otherwise.
	if !c.Landlock && !explicit["landlock"] {
		if _, err := host.landlock(); err == nil {
			c.Landlock = true
		}
	}
	// executablePolicyScope: "tree" wherever Landlock can hold it (SPEC
	// 7.1), else "launch", said at start, in doctor and process_get_policy.
	if c.ExecutablePolicyScope == "" {
		c.ExecutablePolicyScope = ScopeTree
		if _, err := host.landlock(); err != nil {
			c.ExecutablePolicyScope = ScopeLaunch
			c.scopeFallback = "executablePolicyScope: the executable policy holds for the launched file only, not for the programs it starts (" + err.Error() + "); set executablePolicyScope to \"launch\" to accept this"
			if len(c.HelperExecutables) > 0 {
				c.scopeFallback += "; helperExecutables has no effect"
			}
		}
	}
	for _, f := range limitFields {
		d, m := f.get(&c.DefaultResourceLimits), f.get(&c.MaximumResourceLimits)
		if m > 0 && d > m && !explicit["defaultResourceLimits."+f.name] {
			f.set(&c.DefaultResourceLimits, m)
		}
	}
}

// DefaultNamespaces are the namespaces enableNamespaces selects when the
// configuration names none: pid, mount, uts and ipc (network and user only
// when asked for: they cut the network and change the uid).
var DefaultNamespaces = Namespaces{PID: true, Mount: true, UTS: true, IPC: true}

func explicitPrefix(explicit Explicit, key string) bool {
	for k := range explicit {
		if k == key || strings.HasPrefix(k, key+".") {
			return true
		}
	}
	return false
}

type limitField struct {
	name string
	get  func(*ResourceLimits) float64
	set  func(*ResourceLimits, float64)
}

var limitFields = []limitField{
	{"maxCpuPercent", func(r *ResourceLimits) float64 { return r.MaxCpuPercent }, func(r *ResourceLimits, v float64) { r.MaxCpuPercent = v }},
	{"maxMemoryMB", func(r *ResourceLimits) float64 { return float64(r.MaxMemoryMB) }, func(r *ResourceLimits, v float64) { r.MaxMemoryMB = int64(v) }},
	{"maxFileDescriptors", func(r *ResourceLimits) float64 { return float64(r.MaxFileDescriptors) }, func(r *ResourceLimits, v float64) { r.MaxFileDescriptors = int64(v) }},
	{"maxCpuTime", func(r *ResourceLimits) float64 { return float64(r.MaxCpuTime) }, func(r *ResourceLimits, v float64) { r.MaxCpuTime = int64(v) }},
	{"maxProcesses", func(r *ResourceLimits) float64 { return float64(r.MaxProcesses) }, func(r *ResourceLimits, v float64) { r.MaxProcesses = int64(v) }},
}

func readError(err error, source, via string) *Error {
	remedy := "make the file readable, or remove it to use the next configuration source"
	if via != "" {
		remedy = "fix the path given by " + via + " or make the file readable"
	}
	msg := fmt.Sprintf("cannot read the configuration: %v", err)
	if errors.Is(err, fs.ErrNotExist) {
		msg = "the configuration file does not exist"
	}
	return &Error{Message: msg, Remedy: remedy, Code: errcode.InvalidInput, Layer: layer.Config.String(), Source: source}
}

func withSource(err error, source string) error {
	var ce *Error
	if errors.As(err, &ce) {
		ce.Source = source
		return ce
	}
	return err
}

// checkWriters refuses a config file that someone other than the server's
// user (or root) could have written (SPEC 7.1a: the agent cannot change the
// policy, not even for the next start): group- or world-writable, or owned
// by another uid — such as the children's (65534 on a root server), who may
// create ./mcp-process-config.json in an allowed directory.
func checkWriters(path string) *Error {
	fi, err := os.Stat(path)
	if err != nil {
		return nil // read a moment ago; the next start reports what changed
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return invalid("", "chmod go-w "+path,
			"config file %s is writable by its group or by others (mode %v): whoever can write it can change the policy", path, fi.Mode().Perm())
	}
	if uid, ok := fileOwner(fi); ok && uid != 0 && uid != host.uid() {
		return invalid("", "check its content, then chown it to the server's user",
			"config file %s is owned by uid %d, not by the server's user (uid %d) or root: a child may have written it", path, uid, host.uid())
	}
	return nil
}
