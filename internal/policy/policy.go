package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// The layers of the policy's refusals (errcode.Error.Layer): the
// registry's names (package layer), under the names this package has
// always used.
const (
	LayerTimeWindow       = layer.TimeWindows
	LayerExecutable       = layer.Executables
	LayerArguments        = layer.Arguments
	LayerEnvironment      = layer.Environment
	LayerWorkingDirectory = layer.WorkingDirectory
	LayerResourceLimits   = layer.ResourceLimits
	LayerIO               = layer.IO
	// LayerConfig is the layer of the errors New returns (a config that
	// cannot be compiled).
	LayerConfig = layer.Config
)

// DefaultSearchPath is used when the config's searchPath is empty.
const DefaultSearchPath = config.DefaultSearchPath

// Policy is a compiled configuration. It is immutable after New and safe for
// concurrent use.
type Policy struct {
	cfg *config.Config

	getenv func(string) string

	// homes is the root of the agents' HOME directories (realpath of its
	// existing part); "" with enableChroot (children get HOME=/).
	homes    string
	homesSet bool // WithHomes

	// view resolves every path the policy looks up: the host, or with
	// enableChroot the jail (paths in requests and config name files
	// inside it).
	view view

	searchDirs []string // absolute directories of searchPath, in order
	searchPath string   // the PATH value given to children

	allow          []allowEntry
	confirmFor     []allowEntry // requireConfirmationFor, compiled as allowedExecutables
	blockedExtra   []string     // additionalBlockedExecutables names, lower case
	blockedExtraP  []string     // additionalBlockedExecutables paths (cleaned)
	argPatterns    []argPattern
	blockedEnv     map[string]bool // additionalBlockedEnvVars, upper case
	allowedEnv     map[string]bool // allowedEnvVars, upper case; nil = any
	proxied        bool            // the egress proxy's variables are the server's (network.go)
	shells         shellHashes
	allowedWindows []config.TimeWindow
	blockedWindows []config.TimeWindow
	loc            *time.Location
}

// Option changes how New builds a Policy (mostly for tests).
type Option func(*Policy)

// WithGetenv sets the function used to read the server's environment (for
// HOME, LANG and inheritEnvVars). The default is os.Getenv.
func WithGetenv(f func(string) string) Option {
	return func(p *Policy) { p.getenv = f }
}

// WithHomes sets the root of the agents' HOME directories instead of
// agenthome.DefaultRoot of the server's environment.
func WithHomes(root string) Option {
	return func(p *Policy) { p.homes, p.homesSet = root, true }
}

// New compiles cfg once: argument patterns, allowlist globs, time windows and
// zone, the search path and the content hashes of the host's shells. cfg
// must have passed config.Validate (config.Load validates): its values are
// checked there once, and New trusts them. New still refuses what only it
// can see (the jail, the agents' homes, the syntax of time windows, what a
// tree-scope glob matches on this host); an error is an *errcode.Error with
// code INVALID_INPUT naming the key (and the index) at fault. cfg must not
// be modified afterwards.
func New(cfg *config.Config, opts ...Option) (*Policy, error) {
	if cfg == nil {
		return nil, errcode.Fail(errcode.InvalidInput, LayerConfig, "pass a configuration", "no configuration")
	}
	p := &Policy{cfg: cfg, getenv: os.Getenv}
	for _, o := range opts {
		o(p)
	}
	steps := []func() *errcode.Error{
		p.compileRoot,
		p.compileSearchPath,
		p.compileExecutables,
		p.compileConfirmation,
		p.compileArguments,
		p.compileEnvironment,
		p.compileHomes,
		p.compileTimeWindows,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, err
		}
	}
	if cfg.BlockShellInterpreters {
		dirs := append(append([]string{}, p.searchDirs...), shellSearchDirs...)
		p.shells = findShells(view{}, dirs)
		if p.view.jailed() {
			p.shells.add(findShells(p.view, dirs))
		}
	}
	return p, nil
}

// notValidated is the error of a value config.Validate refuses: New was
// given a config that did not pass it.
func notValidated(key string, err error) *errcode.Error {
	return errcode.Fail(errcode.Internal, LayerConfig, "validate the configuration first (config.Validate; config.Load does)",
		"%s: %v", key, err)
}

// WithoutOpenat2 makes a chroot policy resolve jail paths with its portable
// component-by-component walk instead of openat2(RESOLVE_IN_ROOT) (tests).
func WithoutOpenat2() Option {
	return func(p *Policy) { p.view.noOpenat2 = true }
}

// compileRoot, with enableChroot, realpaths chrootDirectory: from then on
// executables, working directories and path entries of the config are paths
// inside it.
func (p *Policy) compileRoot() *errcode.Error {
	if !p.cfg.EnableChroot || p.cfg.ComposedJail() {
		// A composed jail holds host paths at their own paths.
		p.view.root = ""
		return nil
	}
	d := p.cfg.ChrootDirectory
	if d == "" || !filepath.IsAbs(d) {
		return errcode.Fail(errcode.InvalidInput, LayerConfig,
			"set chrootDirectory to the absolute path of an existing directory, or set enableChroot to false",
			"enableChroot is true but chrootDirectory %q is not an absolute path", d)
	}
	r, err := filepath.EvalSymlinks(d)
	var fi os.FileInfo
	if err == nil {
		fi, err = os.Stat(r)
	}
	if err != nil || !fi.IsDir() {
		return errcode.Fail(errcode.InvalidInput, LayerConfig,
			"create the directory (with what the jailed programs need), or set enableChroot to false",
			"enableChroot is true but chrootDirectory %q is not an existing directory", d)
	}
	p.view.root = r
	return nil
}

// Root returns the realpath of the chroot jail, or "" without enableChroot.
func (p *Policy) Root() string { return p.view.root }

// Config returns the configuration the policy was compiled from.
func (p *Policy) Config() *config.Config { return p.cfg }

// SearchPath returns the PATH-style search path executables are resolved in.
func (p *Policy) SearchPath() string { return p.searchPath }

// Evaluate decides whether req may run at instant now. It starts no process
// and writes nothing. Checks run in this order and the first failure wins:
// time windows, executable, arguments, environment, working directory,
// resource limits.
func (p *Policy) Evaluate(req Request, now time.Time) Decision {
	if err := p.CheckTimeWindows(now); err != nil {
		return deny(err)
	}
	spec := &Spec{Root: p.view.root}
	if err := p.checkExecutable(req.Executable, spec); err != nil {
		return deny(err)
	}
	if err := p.CheckArguments(req.Args); err != nil {
		return deny(err)
	}
	home := p.HomeOf(req.Agent)
	if err := p.checkRequestEnv(req.Env); err != nil {
		return deny(err)
	}
	env := p.composeEnvironment(home, req.Env)
	dir, err := p.CheckWorkingDirectory(req.Cwd)
	if err != nil {
		return deny(err)
	}
	limits, lifetime, err := p.EffectiveLimits(req.Limits, req.Timeout)
	if err != nil {
		return deny(err)
	}
	spec.Argv = make([]string, 1+len(req.Args))
	spec.Argv[0] = req.Executable
	copy(spec.Argv[1:], req.Args)
	spec.Env = env
	spec.Home = home
	spec.Dir = dir
	spec.Limits = limits
	spec.Lifetime = lifetime
	return Decision{Allow: true, Spec: spec, NeedsApproval: p.cfg.RequireConfirmation || spec.confirm}
}

func deny(err *errcode.Error) Decision { return Decision{Err: err} }

// compileHomes fixes the root of the agents' HOME directories (SPEC 7.1a):
// agenthome.DefaultRoot of the server's environment unless WithHomes set
// it, its existing part resolved (the sandbox opens the home refusing any
// symbolic link). With enableChroot there is none: the host directory is
// not in the jail, and children get HOME=/.
func (p *Policy) compileHomes() *errcode.Error {
	if p.view.jailed() {
		p.homes = ""
		return nil
	}
	if !p.homesSet {
		p.homes = agenthome.DefaultRoot(p.getenv, os.Geteuid() == 0)
	}
	if p.homes == "" || !filepath.IsAbs(p.homes) {
		return errcode.Fail(errcode.InvalidInput, LayerConfig,
			"start the server with XDG_STATE_HOME or HOME set to an absolute directory",
			"no directory for the agents' HOME: each agent's HOME is $XDG_STATE_HOME/mcp-process/homes/<agent>, else $HOME/.local/state/mcp-process/homes/<agent>, and the server's environment sets neither")
	}
	p.homes = resolveExisting(filepath.Clean(p.homes))
	return nil
}

// resolveExisting resolves the symbolic links of the longest existing
// prefix of the absolute path p and joins the rest.
func resolveExisting(p string) string {
	var rest []string
	for cur := p; ; cur = filepath.Dir(cur) {
		r, err := filepath.EvalSymlinks(cur)
		if err == nil {
			return filepath.Join(append([]string{r}, rest...)...)
		}
		if !errors.Is(err, fs.ErrNotExist) || cur == "/" {
			return p
		}
		rest = append([]string{filepath.Base(cur)}, rest...)
	}
}

// HomesRoot is the directory of the agents' HOME directories ("" with
// enableChroot).
func (p *Policy) HomesRoot() string { return p.homes }

// HomeOf is agent's HOME on the host ("" with enableChroot).
func (p *Policy) HomeOf(agent string) string {
	if p.homes == "" {
		return ""
	}
	return agenthome.Path(p.homes, agent)
}
