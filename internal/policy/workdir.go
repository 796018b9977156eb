package policy

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// CheckWorkingDirectory resolves and checks the requested working directory
// (SPEC 3.4) and returns its real path. "" means the first allowed
// directory; a relative cwd is taken relative to it (SPEC 7.3). With enableChroot, cwd and both directory lists are paths inside
// the jail, resolved inside it (symlinks and ".." never leave it), and the
// returned path is the directory as seen inside the jail. The real path (symlinks and ".." resolved) is compared on path
// component boundaries with the real paths of allowedWorkingDirectories and
// blockedWorkingDirectories; blocked wins. An empty
// allowedWorkingDirectories allows no directory at all (fail closed; the
// config loader fills an absent or empty list with the start directory).
func (p *Policy) CheckWorkingDirectory(cwd string) (string, *errcode.Error) {
	cwd, e := p.requestedDir(cwd)
	if e != nil {
		return "", e
	}
	real, e := p.existingDir(cwd)
	if e != nil {
		return "", e
	}
	shown := p.view.describe(real)
	for _, b := range p.cfg.BlockedWorkingDirectories {
		if p.blockedDir(real, b) {
			return "", errcode.Deny(errcode.CwdNotAllowed, LayerWorkingDirectory,
				"choose a directory outside "+b+" (blockedWorkingDirectories)",
				"cwd %q (resolved to %s) is inside the blocked directory %s", cwd, shown, b)
		}
	}
	allowed := p.cfg.AllowedWorkingDirectories
	if len(allowed) == 0 {
		return "", errcode.Deny(errcode.CwdNotAllowed, LayerWorkingDirectory,
			"add "+real+" (or a parent) to allowedWorkingDirectories",
			"cwd %q is not allowed: allowedWorkingDirectories is empty, so no directory is allowed", cwd)
	}
	if p.allowedDir(real) {
		return real, nil
	}
	return "", errcode.Deny(errcode.CwdNotAllowed, LayerWorkingDirectory,
		"use a directory inside "+strings.Join(allowed, ", ")+", or add "+real+" to allowedWorkingDirectories",
		"cwd %q (resolved to %s) is not inside allowedWorkingDirectories", cwd, shown)
}

// requestedDir returns the absolute directory a launch asks for: cwd, the
// first allowed directory when cwd is empty, or cwd relative to it (SPEC
// 7.3; ".." that leaves it is caught later like any other path).
func (p *Policy) requestedDir(cwd string) (string, *errcode.Error) {
	allowed := p.cfg.AllowedWorkingDirectories
	if cwd == "" {
		if len(allowed) == 0 {
			return "", errcode.Deny(errcode.CwdNotAllowed, LayerWorkingDirectory,
				"add a directory to allowedWorkingDirectories (the first one is the default cwd)",
				"no cwd given and allowedWorkingDirectories is empty, so no directory is allowed")
		}
		cwd = allowed[0]
	}
	if strings.IndexByte(cwd, 0) >= 0 {
		return "", errcode.Fail(errcode.InvalidInput, LayerWorkingDirectory,
			"remove the NUL byte from cwd", "cwd contains a NUL byte")
	}
	if !filepath.IsAbs(cwd) {
		if len(allowed) == 0 {
			return "", errcode.Deny(errcode.CwdNotAllowed, LayerWorkingDirectory,
				"give cwd as an absolute path inside allowedWorkingDirectories",
				"cwd %q is relative and allowedWorkingDirectories is empty, so no directory is allowed", cwd)
		}
		cwd = filepath.Join(allowed[0], cwd)
	}
	return cwd, nil
}

// existingDir returns the real path of cwd (in the jail, if any), which
// must be an existing directory.
func (p *Policy) existingDir(cwd string) (string, *errcode.Error) {
	where := ""
	if p.view.jailed() {
		where = " inside the jail " + p.view.root
	}
	real, isDir, err := p.view.dir(cwd)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "no such directory"
		}
		return "", errcode.Fail(errcode.CwdNotFound, LayerWorkingDirectory,
			"create the directory"+where+" or name an existing one", "cwd %q%s: %s", cwd, where, msg)
	}
	if !isDir {
		return "", errcode.Fail(errcode.CwdNotFound, LayerWorkingDirectory,
			"name a directory, not a file", "cwd %q%s is not a directory", cwd, where)
	}
	return real, nil
}

// allowedDir reports whether real (a real path) is one of the allowed
// directories or lies beneath one; a missing allowed directory allows
// nothing.
func (p *Policy) allowedDir(real string) bool {
	for _, a := range p.cfg.AllowedWorkingDirectories {
		if !filepath.IsAbs(a) {
			continue
		}
		// real has no symbolic link in it: when the entry as written is a
		// prefix of it, so is the entry's realpath (the same path). Not so
		// for an entry with "..", which realpath takes after the symlink
		// before it and Clean takes lexically.
		if !hasDotDot(a) && within(real, filepath.Clean(a)) {
			return true
		}
		if ra, _, err := p.view.realpath(a); err == nil && within(real, ra) {
			return true
		}
	}
	return false
}

// blockedDir reports whether the resolved directory real is within the
// blocked entry d, taken both cleaned and realpath'd (in the policy's view),
// so that an entry blocks whichever way the directory is reached. The
// cleaned form is compared first: it needs no resolution.
func (p *Policy) blockedDir(real, d string) bool {
	if !filepath.IsAbs(d) {
		return false
	}
	clean := filepath.Clean(d)
	if within(real, clean) {
		return true
	}
	r, _, err := p.view.realpath(d)
	return err == nil && r != clean && within(real, r)
}

// within reports whether p is dir or below it, on component boundaries.
func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	// p == dir || strings.HasPrefix(p, dir+"/"), without building dir+"/".
	return strings.HasPrefix(p, dir) && (len(p) == len(dir) || p[len(dir)] == '/')
}

// hasDotDot reports whether the slash path a has a ".." component after a
// slash: strings.Contains(a+"/", "/../") without building a+"/" (an
// occurrence either lies inside a or ends at the added slash).
func hasDotDot(a string) bool {
	return strings.Contains(a, "/../") || strings.HasSuffix(a, "/..")
}
