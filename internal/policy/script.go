package policy

import (
	"io/fs"
	"path"
	"strings"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// ScriptRun is how the launcher runs a "#!" script: it execs the checked
// interpreter from a descriptor (re-checking that file's identity) with the
// argument vector the kernel would have built from the script's "#!" line,
// Args then ScriptPath then the request's arguments. The script is then
// opened by the interpreter by path, as when a shell runs it: argv[0],
// __file__ and "$0" are the script's real path, so scripts that find files
// beside themselves work (they saw /dev/fd/3 when the kernel was given the
// script's descriptor).
//
// The script's own identity is checked by the launcher before the stage
// runs (as for any executable); the interpreter re-opens the path
// afterwards. What is left in that window, and why it gives nothing more
// than a write to the script's file already gives, is in docs/executables.md
// ("How a script runs").
type ScriptRun struct {
	// Interpreter is the host path of the file to exec (for
	// "#!/usr/bin/env X", X as the policy resolved it in searchPath: env is
	// not run, the same program is), with the identity and setuid state it
	// had when it was checked.
	Interpreter string
	Dev, Ino    uint64
	SetID       bool
	// Shebang is the interpreter's own "#!" line when it is itself a script
	// (the launcher then lets the kernel run it from its descriptor), "".
	Shebang string
	// Args are the interpreter's argv before the script's path: the word
	// of the "#!" line and its optional argument (one argument, as Linux
	// passes it), or for env, the program and (with -S) its arguments.
	Args []string
	// ScriptPath is the script's real path as the child sees it (inside
	// the jail with chroot).
	ScriptPath string
}

// scriptRun builds the ScriptRun of script r whose checked first-level
// interpreter is interp, from the "#!" line exactly as Linux splits it
// (binfmt_script: the interpreter is the first word after "#!", blanks
// being space and tab; the rest of the line, trimmed, is one argument).
func scriptRun(r, interp *resolved) (*ScriptRun, *errcode.Error) {
	line := strings.TrimPrefix(r.shebang, "#!")
	line = strings.TrimLeft(line, " \t")
	word, arg := line, ""
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		word, arg = line[:i], strings.Trim(line[i:], " \t")
	}
	run := &ScriptRun{Interpreter: interp.host, ScriptPath: r.real, Shebang: interp.shebang,
		SetID: interp.info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0}
	run.Dev, run.Ino = fileID(interp.info)
	if !strings.EqualFold(path.Base(word), "env") {
		run.Args = []string{word}
		if arg != "" {
			run.Args = append(run.Args, arg)
		}
		return run, nil
	}
	// "#!/usr/bin/env ARG": env gets ARG as one word and runs that program
	// from PATH (searchPath, where the policy resolved it as interp).
	if rest, ok := cutAny(arg, "-S", "--split-string"); ok {
		if strings.ContainsAny(rest, "'\"#") {
			return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
				"write the #! line without quotes or comments: \"#!/usr/bin/env -S PROGRAM ARG...\"",
				"%s: its #! line uses env -S with quotes or a comment, which the server does not reproduce", r.real)
		}
		run.Args = strings.Fields(strings.ReplaceAll(rest, "\t", " "))
		return run, nil
	}
	if strings.ContainsAny(arg, " \t") {
		return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"use \"#!/usr/bin/env -S PROGRAM ARG...\" to pass arguments, or name the interpreter by absolute path",
			"%s: its #! line gives env the one word %q (Linux passes the rest of the line as one argument): env would look for a program of that name", r.real, arg)
	}
	run.Args = []string{arg}
	return run, nil
}

// cutAny returns what follows the first of opts that s starts with as a
// whole word (the option then a blank).
func cutAny(s string, opts ...string) (string, bool) {
	for _, o := range opts {
		if rest, ok := strings.CutPrefix(s, o); ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t') {
			return strings.TrimLeft(rest, " \t"), true
		}
	}
	return "", false
}
