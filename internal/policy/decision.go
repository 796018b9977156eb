// Package policy decides whether a launch request may run, and if so exactly
// what runs: the resolved executable, the built argv, environment, working
// directory and limits.
//
// Guarantees: Evaluate is pure with respect to the system: it reads the
// filesystem (to resolve paths, stat files, read a #! line) but starts no
// process, writes nothing and keeps no state. Every refusal is an
// *errcode.Error with a stable code, the layer and a remedy. Checks run in the
// order of SPEC section 6; the first failure wins. With enableChroot every
// path of a request or of the config (executable, searchPath, allowlist and
// blocklist paths, "#!" interpreters, working directories) is a path inside
// the jail, resolved beneath it so that neither symlinks nor ".." lead out.
package policy

import (
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Request is what an agent asks to launch (the launch-relevant part of a
// process_start / process_run / process_start_service call).
type Request struct {
	Agent      string
	Executable string
	Args       []string
	Cwd        string            // "" = the first allowed working directory
	Env        map[string]string // names and values the request sets
	// Limits the request sets; zero fields are filled from defaultResourceLimits.
	Limits config.ResourceLimits
	// Timeout requested (0 = none); it may only shorten maxProcessLifetime.
	Timeout time.Duration
}

// Spec is exactly what the sandbox launches once a request is allowed.
type Spec struct {
	// Path is the resolved real path of the executable (symlinks resolved) on
	// the host: with chroot, the file's host path beneath Root (open it
	// before entering the jail).
	Path string
	// Dev and Ino identify the file that passed the checks; the launcher opens
	// Path and refuses to run a file whose identity differs (a swap after the check).
	Dev, Ino uint64
	// SetID is true when the file had a setuid or setgid bit when it was
	// checked (only with blockSetuidExecutables false). The launcher
	// refuses a bit gained since; one that was there is inert in the
	// child, which always runs with no_new_privs.
	SetID bool
	// Script is true when the file starts with "#!" (the interpreter, which
	// passed the executable policy too, is Interpreter: its real path as the
	// child sees it, i.e. inside the jail with chroot, where the kernel
	// resolves the "#!" line).
	Script      bool
	Interpreter string
	// Run is, for a script, how the launcher runs it (nil otherwise): the
	// checked interpreter, by descriptor, with the script's real path as
	// its argument, so that the script sees its own path (argv[0],
	// __file__, "$0"), not /dev/fd/N.
	Run *ScriptRun
	// Shebang is the script's "#!" line as checked (no newline): the
	// launcher re-reads it from the opened file and refuses a change.
	Shebang string
	// Argv is the full argv; Argv[0] is the executable name as requested.
	Argv []string
	// Env is the built environment ("NAME=value"), never the server's own.
	Env []string
	// Home is the agent's own HOME directory on the host (HOME in Env),
	// which the launcher creates (mode 0700, owned by the child's uid)
	// before the child runs and keeps writable under Landlock and the
	// read-only filesystem; "" with enableChroot (HOME=/ in the jail).
	Home string
	// Dir is the resolved working directory as the child sees it: with
	// chroot a path inside the jail ("/work"), to chdir to once inside it.
	Dir string
	// Root is the chroot jail's host path (realpath of chrootDirectory), ""
	// without enableChroot. Path is beneath it; Dir and Interpreter are
	// relative to it.
	Root string
	// Limits are the effective resource limits (defaults filled in).
	Limits config.ResourceLimits
	// Lifetime is the maximum run time: min(maxProcessLifetime, request timeout).
	Lifetime time.Duration

	// confirm: the executable matches requireConfirmationFor.
	confirm bool
}

// Decision is the outcome of Evaluate. When Allow is false, Err says why;
// when true, Spec says what runs.
type Decision struct {
	Allow bool
	Err   *errcode.Error
	Spec  *Spec
	// NeedsApproval (with Allow): a person must approve the launch before
	// it runs (requireConfirmation, or the executable matches
	// requireConfirmationFor). The policy only says so; the server asks.
	NeedsApproval bool
}
