package policy

// Over 500 lines on purpose: the executable check of SPEC 3.1 in one file
// (allowlist, blocklist, resolution through searchPath and realpath,
// setuid, the "#!" line and its interpreter), because its steps share the
// resolved value and their order is the rule.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// maxInterpreterDepth bounds nested "#!" scripts (Linux allows a few levels).
const maxInterpreterDepth = 4

// allowEntry is one compiled allowedExecutables entry.
type allowEntry struct {
	raw    string
	isPath bool // contains a slash: matches the resolved real path
	isGlob bool // contains glob metacharacters
}

// resolved is an executable file found on disk.
type resolved struct {
	requested string // as named (request string, or #! word)
	// real is the realpath as the child sees it (inside the jail with
	// chroot); host is the same file's path on the host (== real without
	// chroot).
	real string
	host string
	// shown is real for messages (it says "inside the jail" with chroot).
	shown string
	info  fs.FileInfo // stat of host
	// foundAs is the name under which the file was found in a searchPath
	// directory ("python3" for /usr/bin/python3 -> python3.11), or "".
	foundAs string
	// shebang is the "#!" line that was checked (without the newline),
	// "" for a binary: the launcher refuses a file whose line changed.
	shebang string
}

func (p *Policy) compileSearchPath() *errcode.Error {
	sp := p.cfg.SearchPath
	if sp == "" {
		sp = DefaultSearchPath
	}
	// config.Validate refused an empty or relative entry (SPEC 3.1: never
	// a cwd-relative path).
	for _, d := range strings.Split(sp, string(os.PathListSeparator)) {
		d = filepath.Clean(d)
		if !slices.Contains(p.searchDirs, d) {
			p.searchDirs = append(p.searchDirs, d)
		}
	}
	p.searchPath = strings.Join(p.searchDirs, string(os.PathListSeparator))
	return nil
}

func (p *Policy) compileExecutables() *errcode.Error {
	// config.Validate refused empty and relative entries and bad globs.
	for _, e := range p.cfg.AllowedExecutables {
		ent := allowEntry{raw: e, isPath: strings.Contains(e, "/"), isGlob: config.IsGlob(e)}
		if ent.isPath && !ent.isGlob {
			ent.raw = path.Clean(e)
		}
		p.allow = append(p.allow, ent)
	}
	for _, e := range p.cfg.AdditionalBlockedExecutables {
		if strings.Contains(e, "/") {
			p.blockedExtraP = append(p.blockedExtraP, path.Clean(e))
		} else {
			p.blockedExtra = append(p.blockedExtra, strings.ToLower(e))
		}
	}
	return nil
}

// checkExecutable runs the executable checks in the order of SPEC 6: name
// form, always-blocked requested name, resolution, always-blocked resolved
// file, shell, setuid, allowlist; then the "#!" interpreter, if any, through
// the same checks. On success it fills spec's Path, Dev, Ino, Script and
// Interpreter.
func (p *Policy) checkExecutable(name string, spec *Spec) *errcode.Error {
	r, interp, err := p.admit(name)
	if err != nil {
		return err
	}
	spec.Path = r.host
	spec.Dev, spec.Ino = fileID(r.info)
	spec.confirm = p.matchesAny(p.confirmFor, r)
	spec.SetID = r.info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0
	if interp != nil {
		spec.Script = true
		spec.Interpreter = interp.real
		spec.Shebang = r.shebang
		run, err := scriptRun(r, interp)
		if err != nil {
			return err
		}
		spec.Run = run
	}
	return nil
}

// admit runs the executable checks on name and returns the file that
// passed them and, for a script, its (first-level) "#!" interpreter.
func (p *Policy) admit(name string) (r, interp *resolved, _ *errcode.Error) {
	// 1. Name form.
	if name == "" {
		return nil, nil, errcode.Fail(errcode.InvalidInput, LayerExecutable,
			"name the executable (a bare name looked up in searchPath, or an absolute path)",
			"the executable is empty")
	}
	if strings.IndexByte(name, 0) >= 0 {
		return nil, nil, errcode.Fail(errcode.InvalidInput, LayerExecutable,
			"remove the NUL byte from the executable name", "the executable name contains a NUL byte")
	}
	if !filepath.IsAbs(name) && strings.Contains(name, "/") {
		return nil, nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"use a bare name (looked up in searchPath "+p.searchPath+") or an absolute path",
			"the executable %q is a relative path; relative paths are never resolved", name)
	}
	// 2. Always-blocked requested name.
	if err := p.checkBlocked(name, ""); err != nil {
		return nil, nil, err
	}
	// 3. Resolution.
	r, err := p.resolve(name)
	if err != nil {
		return nil, nil, err
	}
	// 4.-7. and the interpreter chain.
	interp, err = p.checkFile(r, 0)
	if err != nil {
		return nil, nil, err
	}
	return r, interp, nil
}

// checkBlocked refuses an always-blocked or additionally blocked executable,
// by the requested name and, when known, by the resolved real path.
func (p *Policy) checkBlocked(requested, real string) *errcode.Error {
	var buf [2]string
	names := append(buf[:0], path.Base(requested))
	if real != "" {
		names = append(names, path.Base(real))
	}
	for _, n := range names {
		if config.IsAlwaysBlockedExecutable(n) {
			what := fmt.Sprintf("%q", requested)
			if real != "" && path.Base(real) == n {
				what = fmt.Sprintf("%q (resolved to %s)", requested, p.view.describe(real))
			}
			return errcode.Deny(errcode.ExecutableBlocked, LayerExecutable,
				"use another program: "+strings.ToLower(n)+" is on the built-in blocklist (privilege/system tools and exec wrappers) and cannot be allowed",
				"the executable %s is always blocked", what)
		}
		ln := strings.ToLower(n)
		for _, b := range p.blockedExtra {
			if ok, _ := path.Match(b, ln); ok {
				return errcode.Deny(errcode.ExecutableBlocked, LayerExecutable,
					"remove "+b+" from additionalBlockedExecutables if it should run",
					"the executable %q is in additionalBlockedExecutables", requested)
			}
		}
	}
	for _, b := range p.blockedExtraP {
		cands := []string{b}
		if rb, _, err := p.view.realpath(b); err == nil {
			cands = append(cands, rb)
		}
		for _, c := range cands {
			if (filepath.IsAbs(requested) && filepath.Clean(requested) == c) || (real != "" && real == c) {
				return errcode.Deny(errcode.ExecutableBlocked, LayerExecutable,
					"remove "+b+" from additionalBlockedExecutables if it should run",
					"the executable %q is in additionalBlockedExecutables", requested)
			}
		}
	}
	return nil
}

// resolve finds the file a name designates: a bare name in searchPath only
// (never the request's PATH nor the server's cwd), an absolute path as is;
// then realpath. The result is a regular file with an execute bit.
func (p *Policy) resolve(name string) (*resolved, *errcode.Error) {
	if !filepath.IsAbs(name) {
		for _, d := range p.searchDirs {
			cand := joinName(d, name)
			r, err := p.resolveFile(cand)
			if err != nil {
				continue
			}
			r.requested = name
			r.foundAs = name
			return r, nil
		}
		where := ""
		if p.view.jailed() {
			where = " inside the jail " + p.view.root
		}
		return nil, errcode.Fail(errcode.ExecutableNotFound, LayerExecutable,
			"install "+name+" in a searchPath directory ("+p.searchPath+")"+where+" or name it by absolute path",
			"executable %q not found in searchPath %s%s (the request's PATH is never used)", name, p.searchPath, where)
	}
	clean := filepath.Clean(name)
	r, err := p.resolveFile(clean)
	if err != nil {
		remedy, where := "name an existing executable regular file", ""
		if p.view.jailed() {
			remedy += " (a path inside the jail " + p.view.root + ")"
			where = " inside the jail " + p.view.root
		}
		return nil, errcode.Fail(errcode.ExecutableNotFound, LayerExecutable,
			remedy, "executable %q%s: %v", name, where, err)
	}
	r.requested = name
	if slices.Contains(p.searchDirs, filepath.Dir(clean)) {
		r.foundAs = filepath.Base(clean)
	}
	return r, nil
}

// joinName is filepath.Join(dir, name) for a clean absolute dir (a
// searchPath directory): a plain name (not "", ".", ".." and without a
// slash) is appended as is, the result being clean already; anything
// else goes through filepath.Join.
func joinName(dir, name string) string {
	if name == "" || name == "." || name == ".." || strings.IndexByte(name, '/') >= 0 || !path.IsAbs(dir) || path.Clean(dir) != dir {
		return filepath.Join(dir, name)
	}
	if dir == "/" {
		return "/" + name
	}
	return dir + "/" + name
}

var (
	errNotExecutable = errors.New("not a regular file with an execute permission bit")
	errNoSuchFile    = errors.New("no such file")
)

// resolveFile resolves the absolute path name in the policy's view and
// checks it is an executable regular file.
func (p *Policy) resolveFile(name string) (*resolved, error) {
	return resolveFileIn(p.view, name)
}

func resolveFileIn(v view, name string) (*resolved, error) {
	if !v.jailed() && !v.noOpenat2 {
		if r, ok, err := resolveFileByFd(name); ok {
			return r, err
		}
	}
	real, host, fi, err, statErr := v.stat(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errNoSuchFile
		}
		return nil, err
	}
	if statErr != nil {
		return nil, statErr
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, errNotExecutable
	}
	return &resolved{real: real, host: host, shown: v.describe(real), info: fi}, nil
}

// checkFile runs steps 4 to 7 on a resolved file, then the same checks on its
// "#!" interpreter. It returns the (first-level) interpreter of a script.
func (p *Policy) checkFile(r *resolved, depth int) (*resolved, *errcode.Error) {
	// 4. Always-blocked resolved file.
	if err := p.checkBlocked(r.requested, r.real); err != nil {
		return nil, err
	}
	sb, err := readShebang(r.host)
	if err == nil && sb != nil {
		r.shebang = sb.raw
	}
	if err != nil {
		return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"make "+r.host+" readable by the server so it can be checked",
			"cannot read %s to check it: %v", r.host, err)
	}
	// 5. Shell.
	block := p.cfg.BlockShellInterpreters
	if block {
		if err := p.checkShell(r, ""); err != nil {
			return nil, err
		}
		if sb != nil && sb.command != "" && config.IsShell(path.Base(sb.command)) {
			return nil, shellDenied(r, fmt.Sprintf("its #! line runs the shell %q", sb.command))
		}
	}
	var interp *resolved
	if sb != nil {
		if depth >= maxInterpreterDepth {
			return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
				"run the final interpreter directly",
				"%s: too many nested #! interpreters", r.real)
		}
		var ierr *errcode.Error
		if interp, ierr = p.resolveInterpreter(r, sb); ierr != nil {
			return nil, ierr
		}
		if block {
			if err := p.checkShell(interp, r.real); err != nil {
				return nil, err
			}
		}
	}
	// 6. Setuid / setgid.
	if p.cfg.BlockSetuidExecutables && r.info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		return nil, errcode.Deny(errcode.SetuidBlocked, LayerExecutable,
			"remove the bit (chmod u-s,g-s "+r.host+") or set blockSetuidExecutables to false",
			"%s has the setuid or setgid bit", r.real)
	}
	// 7. Allowlist.
	if !p.allowed(r) {
		return nil, notAllowed(r, len(p.allow) == 0)
	}
	// The interpreter passes the whole executable policy too.
	if interp != nil {
		if _, err := p.checkFile(interp, depth+1); err != nil {
			return nil, err
		}
	}
	return interp, nil
}

func notAllowed(r *resolved, empty bool) *errcode.Error {
	remedy := "add " + r.real + " to allowedExecutables"
	if r.foundAs != "" {
		remedy = "add " + r.foundAs + " (or " + r.real + ") to allowedExecutables"
	}
	msg := "%q (resolved to %s) is not allowed: it is not in allowedExecutables"
	if empty {
		msg = "%q (resolved to %s) is not allowed: allowedExecutables is empty, so nothing may run"
	}
	return errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable, remedy, msg, r.requested, r.shown)
}

func shellDenied(r *resolved, why string) *errcode.Error {
	return errcode.Deny(errcode.ShellBlocked, LayerExecutable,
		"run the program directly (arguments go to execve as is, no shell is needed) or set blockShellInterpreters to false",
		"%q (resolved to %s) is a shell: %s", r.requested, r.shown, why)
}

// checkShell refuses a file that is a shell by name (requested or resolved)
// or by content (same SHA-256 as a shell binary of this host). scriptOf,
// when set, is the script whose interpreter r is.
func (p *Policy) checkShell(r *resolved, scriptOf string) *errcode.Error {
	why := ""
	switch {
	case config.IsShell(path.Base(r.requested)):
		why = "its name is a shell's"
	case config.IsShell(path.Base(r.real)):
		why = "it resolves to a shell"
	default:
		match, err := p.shells.matches(r.host, r.info.Size())
		if err != nil {
			return errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
				"make "+r.host+" readable by the server so it can be checked",
				"cannot read %s to check it: %v", r.host, err)
		}
		if match != "" {
			why = "its content is identical to the shell " + match
		}
	}
	if why == "" {
		return nil
	}
	if scriptOf != "" {
		why = "it is the #! interpreter of " + scriptOf + " and " + why
	}
	return shellDenied(r, why)
}

// allowed reports whether r matches an allowedExecutables entry. A bare name
// matches the basename of the resolved file, or the name under which it was
// found in a searchPath directory; a name with glob characters matches those
// names as a glob; a path or a glob with a slash matches the resolved real
// path (the entry's own symlinks are resolved too).
func (p *Policy) allowed(r *resolved) bool { return p.matchesAny(p.allow, r) }

// matchesAny reports whether r matches one of entries, by the rules of
// allowed (requireConfirmationFor matches the same way).
func (p *Policy) matchesAny(entries []allowEntry, r *resolved) bool {
	var buf [2]string
	names := append(buf[:0], filepath.Base(r.real))
	if r.foundAs != "" {
		names = append(names, r.foundAs)
	}
	// First what needs no system call (names, the literal real path, globs
	// on it), then the entries' own symlinks: the answer is the same, but
	// a request an entry names as resolved costs no resolution.
	for _, e := range entries {
		switch {
		case !e.isPath:
			for _, n := range names {
				if ok, _ := path.Match(e.raw, n); ok {
					return true
				}
			}
		case !e.isGlob:
			if e.raw == r.real {
				return true
			}
		default:
			if ok, _ := path.Match(e.raw, r.real); ok {
				return true
			}
		}
	}
	for _, e := range entries {
		switch {
		case !e.isPath:
		case !e.isGlob:
			if re, _, err := p.view.realpath(e.raw); err == nil && re == r.real {
				return true
			}
		default:
			// Resolve a literal directory part ("/bin/*" on a merged-/usr host).
			dir, base := path.Split(e.raw)
			if !strings.ContainsAny(dir, `*?[\`) {
				if rd, _, err := p.view.realpath(dir); err == nil {
					if ok, _ := path.Match(path.Join(rd, base), r.real); ok {
						return true
					}
				}
			}
		}
	}
	return false
}

// shebang is a parsed "#!" line.
type shebang struct {
	interpreter string // the path after #!
	// command is the program the line runs: the interpreter, or for
	// "#!/usr/bin/env X" the word X.
	command string
	viaEnv  bool
	raw     string // the whole line after "#!", as read
}

// readShebang returns the parsed "#!" line of a file, or nil when the file
// is not a script.
func readShebang(file string) (*shebang, error) {
	var b [256]byte // BINPRM_BUF_SIZE
	n, err := readHead(file, b[:])
	if err != nil {
		return nil, err
	}
	buf := b[:n]
	if !bytes.HasPrefix(buf, []byte("#!")) {
		return nil, nil
	}
	line := buf[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	words := strings.Fields(string(line))
	sb := &shebang{raw: "#!" + string(line)}
	if len(words) == 0 {
		return sb, nil
	}
	sb.interpreter = words[0]
	sb.command = words[0]
	if strings.EqualFold(path.Base(words[0]), "env") {
		sb.viaEnv = true
		sb.command = ""
		rest := words[1:]
		if len(rest) > 0 && (rest[0] == "-S" || rest[0] == "--split-string") {
			rest = rest[1:]
			// env -S expands ${VAR} (from the request's environment) and
			// backslash escapes: what it runs would not be what was checked.
			if strings.ContainsAny(string(line), "$\\") {
				return sb, nil // command "": refused as env with options
			}
		}
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") && !strings.Contains(rest[0], "=") {
			sb.command = rest[0]
		}
	}
	return sb, nil
}

// resolveInterpreter resolves the program a script's #! line runs. For
// "#!/usr/bin/env X", env (an exec wrapper) is accepted only as the system's
// env with no options or assignments, and X is resolved in searchPath — the
// child's PATH is searchPath, so that is what env will run.
func (p *Policy) resolveInterpreter(script *resolved, sb *shebang) (*resolved, *errcode.Error) {
	if sb.interpreter == "" {
		return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"name an interpreter by absolute path on the #! line",
			"%s has an empty #! line", script.real)
	}
	if !path.IsAbs(sb.interpreter) {
		return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"name the interpreter by absolute path on the #! line",
			"%s: its #! interpreter %q is a relative path", script.real, sb.interpreter)
	}
	if !sb.viaEnv {
		if err := p.checkBlocked(sb.interpreter, ""); err != nil {
			return nil, err
		}
		r, err := p.resolveFile(filepath.Clean(sb.interpreter))
		if err != nil {
			return nil, errcode.Fail(errcode.ExecutableNotFound, LayerExecutable,
				"install the interpreter or fix the #! line of "+script.real,
				"%s: #! interpreter %q: %v", script.real, sb.interpreter, err)
		}
		r.requested = sb.interpreter
		if slices.Contains(p.searchDirs, filepath.Dir(filepath.Clean(sb.interpreter))) {
			r.foundAs = filepath.Base(sb.interpreter)
		}
		return r, nil
	}
	// env: it must be the system's env binary, running one plain command.
	envFile, err := p.resolveFile(filepath.Clean(sb.interpreter))
	if err != nil {
		return nil, errcode.Fail(errcode.ExecutableNotFound, LayerExecutable,
			"install the interpreter or fix the #! line of "+script.real,
			"%s: #! interpreter %q: %v", script.real, sb.interpreter, err)
	}
	dir := filepath.Dir(envFile.real)
	if filepath.Base(envFile.real) != "env" || !(slices.Contains(p.searchDirs, dir) || slices.Contains(shellSearchDirs, dir)) ||
		(p.cfg.BlockSetuidExecutables && envFile.info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0) {
		return nil, errcode.Deny(errcode.ExecutableBlocked, LayerExecutable,
			"name the interpreter by absolute path on the #! line",
			"%s: its #! interpreter %q is not the system's env", script.real, sb.interpreter)
	}
	if sb.command == "" {
		return nil, errcode.Deny(errcode.ExecutableBlocked, LayerExecutable,
			"use \"#!/usr/bin/env PROGRAM\" without options or variable assignments, or name the interpreter by absolute path",
			"%s: its #! line runs env with options, assignments or no program (env is an exec wrapper)", script.real)
	}
	if !path.IsAbs(sb.command) && strings.Contains(sb.command, "/") {
		return nil, errcode.Deny(errcode.ExecutableNotAllowed, LayerExecutable,
			"name the interpreter by a bare name or absolute path",
			"%s: its #! interpreter %q is a relative path", script.real, sb.command)
	}
	if err := p.checkBlocked(sb.command, ""); err != nil {
		return nil, err
	}
	r, e := p.resolve(sb.command)
	if e != nil {
		e.Message = script.real + ": #! interpreter: " + e.Message
		return nil, e
	}
	return r, nil
}
