package policy

// Over 500 lines on purpose: the tree scope (SPEC 7.1) in one file, the
// list of files any process of a launch's tree may execve and the reasons
// each is there (interpreters, the loader, helpers), built and explained by
// the same code.

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// MaxTreeExecutables bounds the list of files a tree may exec: the init
// stage opens each one at every launch, so a glob that matches thousands of
// files is refused rather than slowing every launch down.
const MaxTreeExecutables = 4096

// treeLimit is MaxTreeExecutables (lowered by tests).
var treeLimit = MaxTreeExecutables

// maxGlobCandidates bounds what one glob of allowedExecutables or
// helperExecutables may enumerate before it is filtered.
const maxGlobCandidates = 100000

// TreeFile is one file the processes of a tree may execve in the "tree"
// scope, and why.
type TreeFile struct {
	// Path is the file's real path as the child sees it (inside the jail
	// with chroot; symlinks resolved).
	Path string `json:"path"`
	// Why names the rule that admitted it: "allowed", "#! interpreter of
	// X", "env of X", "dynamic loader", "helperExecutables", "git helper",
	// "docker helper", "/bin/sh (shells allowed)".
	Why string `json:"why"`
}

// toolHelpers are the programs a tool the allowlist names runs by itself
// from a directory of its own, not through PATH. Each is a directory whose
// direct children become helpers of the tree (minus what is always blocked,
// shells while they are blocked and setuid files while they are blocked).
//   - git runs its non-builtin commands and transports (git-remote-https,
//     git-http-fetch, git-submodule, ...) from its exec-path, compiled into
//     the binary: /usr/lib/git-core on Debian, /usr/libexec/git-core on
//     Fedora and for a git built from source (PREFIX/libexec/git-core,
//     hence the paths relative to the git binary's directory).
//   - docker runs its CLI plugins (docker compose, docker buildx) from the
//     system cli-plugins directories.
var toolHelpers = []struct {
	tool string
	rel  []string // relative to the directory of the tool's real file
	abs  []string
}{
	{"git", []string{"../lib/git-core", "../libexec/git-core"}, []string{"/usr/lib/git-core", "/usr/libexec/git-core"}},
	{"docker", nil, []string{"/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
		"/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins"}},
}

// TreeExecutables compiles c and returns the files every process of a
// launch's tree may execve when executablePolicyScope is "tree"; see
// (*Policy).TreeExecutables.
func TreeExecutables(c *config.Config) ([]string, error) {
	p, err := New(c)
	if err != nil {
		return nil, err
	}
	return p.TreeExecutables()
}

// TreeExecutables returns the sorted real paths (as the child sees them:
// inside the jail with enableChroot) of the files every process of a
// launch's tree may execve in the "tree" scope; see TreeFiles.
func (p *Policy) TreeExecutables() ([]string, error) {
	files, err := p.TreeFiles()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out, nil
}

// TreeFiles returns, sorted by path and each once, the files the
// processes of a tree may execve in the "tree" scope (SPEC 7.1):
//
//   - every file the executable policy allows to be launched, as Evaluate
//     decides it: bare names of allowedExecutables (and bare globs) in every
//     searchPath directory (a bare name also allows a file of that name
//     anywhere when requested by absolute path; such files are not
//     enumerable and are not in the list), absolute paths, and absolute
//     globs expanded;
//   - the "#!" interpreter chain of every allowed script, including env
//     when a script starts "#!/usr/bin/env PROGRAM" (env is always blocked
//     as a launch, but here it can only exec what the tree allows);
//   - helperExecutables, the built-in helpers of the tools allowed
//     (toolHelpers) and, while blockShellInterpreters is false, /bin/sh;
//     these never include an always-blocked file, a shell (by name, by
//     "#!" line or by content) while shells are blocked, nor a setuid or
//     setgid file while blockSetuidExecutables is true; a helper script is
//     kept only when its interpreter is itself in the list;
//   - the dynamic loader (PT_INTERP) of every ELF file above.
//
// Paths are real paths (symlinks resolved): Landlock rules hold per inode.
// The list is what the host has when it is computed: a file installed later
// under an allowed glob is not in it. It fails when the list would exceed
// MaxTreeExecutables.
func (p *Policy) TreeFiles() ([]TreeFile, error) {
	b := &treeBuilder{p: p, why: map[string]string{}, host: map[string]string{}, inodes: map[fileKey]string{}}
	if err := b.allowedFiles(); err != nil {
		return nil, err
	}
	if !p.cfg.BlockShellInterpreters {
		if r, err := p.resolveFile("/bin/sh"); err == nil {
			r.requested = "/bin/sh"
			b.helper(r, "/bin/sh (shells allowed)")
		}
	}
	for i, e := range p.cfg.HelperExecutables {
		cands, err := b.expand(e)
		if err != nil {
			return nil, errcode.Fail(errcode.InvalidInput, LayerConfig, "narrow the glob",
				"helperExecutables[%d] (%q): %v", i, e, err)
		}
		for _, c := range cands {
			if r, err := p.resolveFile(c); err == nil {
				r.requested = c
				b.helper(r, "helperExecutables")
			}
		}
	}
	b.toolHelpers()
	b.keepRunnableScripts()
	b.loaders()
	if len(b.why) > treeLimit {
		return nil, errcode.Fail(errcode.InvalidInput, LayerConfig,
			"narrow the globs of allowedExecutables and helperExecutables, or set executablePolicyScope to \"launch\"",
			"the tree scope would let %d files run (at most %d: each is opened at every launch)", len(b.why), treeLimit)
	}
	out := make([]TreeFile, 0, len(b.why))
	for p, w := range b.why {
		out = append(out, TreeFile{Path: p, Why: w})
	}
	slices.SortFunc(out, func(a, b TreeFile) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

type treeBuilder struct {
	p    *Policy
	why  map[string]string // real path in the view -> why
	host map[string]string // real path in the view -> host path
	// inodes are the files in the list, by device and inode.
	inodes map[fileKey]string
	// allowed are the files that passed the executable policy.
	allowed []*resolved
	// scripts are helper scripts, kept only if their interpreters run.
	scripts []helperScript
}

type helperScript struct {
	real  string
	needs []fileKey // files that must be in the list for it to run
}

// add puts r in the list, once per path and once per file: Landlock
// rules hold per inode, so a hard link of a file already in (Fedora's
// git-core links every git-* command to git) adds nothing.
func (b *treeBuilder) add(r *resolved, why string) {
	if _, ok := b.why[r.real]; ok {
		return
	}
	if id := keyOf(r); id != (fileKey{}) {
		if _, ok := b.inodes[id]; ok {
			return
		}
		b.inodes[id] = r.real
	}
	b.why[r.real] = why
	b.host[r.real] = r.host
}

type fileKey struct{ dev, ino uint64 }

func keyOf(r *resolved) fileKey {
	var k fileKey
	k.dev, k.ino = fileID(r.info)
	return k
}

// allowedFiles adds what Evaluate would allow, with the interpreter chains.
func (b *treeBuilder) allowedFiles() error {
	p := b.p
	var bare []string
	var cands []string
	for i, e := range p.allow {
		switch {
		case !e.isPath:
			bare = append(bare, e.raw)
		case !e.isGlob:
			cands = append(cands, e.raw)
		default:
			c, err := b.expand(e.raw)
			if err != nil {
				return errcode.Fail(errcode.InvalidInput, LayerConfig, "narrow the glob",
					"allowedExecutables[%d] (%q): %v", i, e.raw, err)
			}
			cands = append(cands, c...)
		}
	}
	if len(bare) > 0 {
		listed := map[string]bool{} // a directory named twice (/bin -> /usr/bin) is read once
		for _, d := range p.searchDirs {
			real, _, err := p.view.realpath(d)
			if err != nil || listed[real] {
				continue
			}
			listed[real] = true
			for _, ent := range b.entries(d) {
				name := ent.Name()
				c := path.Join(d, name)
				if matchAny(bare, name) {
					cands = append(cands, c)
					continue
				}
				// A link whose target's name is allowed ("nodejs -> node").
				if ent.Type()&fs.ModeSymlink == 0 {
					continue
				}
				if real, _, err := p.view.realpath(c); err == nil && matchAny(bare, path.Base(real)) {
					cands = append(cands, c)
				}
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range cands {
		if seen[c] {
			continue
		}
		seen[c] = true
		r, _, err := p.admit(c)
		if err != nil {
			continue // Evaluate would refuse it: not exec-able in the tree
		}
		b.allowed = append(b.allowed, r)
		b.add(r, "allowed")
		b.chain(r, 0)
	}
	return nil
}

func matchAny(globs []string, name string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, name); ok {
			return true
		}
	}
	return false
}

// chain adds the "#!" interpreters of an allowed script, as the policy
// resolved and checked them (env, then the program it runs).
func (b *treeBuilder) chain(r *resolved, depth int) {
	if depth >= maxInterpreterDepth {
		return
	}
	sb, err := readShebang(r.host)
	if err != nil || sb == nil {
		return
	}
	interp, ierr := b.p.resolveInterpreter(r, sb)
	if ierr != nil {
		return
	}
	if sb.viaEnv {
		if env, err := b.p.resolveFile(path.Clean(sb.interpreter)); err == nil {
			b.add(env, "env of "+r.real)
		}
	}
	b.add(interp, "#! interpreter of "+r.real)
	b.chain(interp, depth+1)
}

// helper adds r unless it is always blocked, a shell while shells are
// blocked, or setuid while that is blocked. A script is kept for
// keepRunnableScripts to decide.
func (b *treeBuilder) helper(r *resolved, why string) {
	p := b.p
	if _, in := b.why[r.real]; in {
		return // already in, for a stronger reason
	}
	if p.checkBlocked(r.requested, r.real) != nil {
		return
	}
	sb, err := readShebang(r.host)
	if err != nil {
		return
	}
	if p.cfg.BlockShellInterpreters {
		if p.checkShell(r, "") != nil {
			return
		}
		if sb != nil && sb.command != "" && config.IsShell(path.Base(sb.command)) {
			return
		}
	}
	if p.cfg.BlockSetuidExecutables && r.info.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		return
	}
	if sb != nil {
		needs, ok := b.interpreterNeeds(r, sb)
		if !ok {
			return
		}
		b.scripts = append(b.scripts, helperScript{real: r.real, needs: needs})
	}
	b.add(r, why)
}

// interpreterNeeds returns the files a helper script needs to run: its
// interpreter, or env and the program env runs.
func (b *treeBuilder) interpreterNeeds(r *resolved, sb *shebang) ([]fileKey, bool) {
	if sb.interpreter == "" || !path.IsAbs(sb.interpreter) {
		return nil, false
	}
	if !sb.viaEnv {
		ir, err := b.p.resolveFile(path.Clean(sb.interpreter))
		if err != nil {
			return nil, false
		}
		return []fileKey{keyOf(ir)}, true
	}
	interp, ierr := b.p.resolveInterpreter(r, sb)
	env, err := b.p.resolveFile(path.Clean(sb.interpreter))
	if ierr != nil || err != nil {
		return nil, false
	}
	return []fileKey{keyOf(env), keyOf(interp)}, true
}

// toolHelpers adds the helper directories of the tools the allowlist names.
func (b *treeBuilder) toolHelpers() {
	p := b.p
	for _, th := range toolHelpers {
		var dirs []string
		for _, r := range b.allowed {
			names := []string{path.Base(r.real), path.Base(r.requested)}
			if r.foundAs != "" {
				names = append(names, r.foundAs)
			}
			if !slices.Contains(names, th.tool) {
				continue
			}
			for _, rel := range th.rel {
				dirs = append(dirs, path.Join(path.Dir(r.real), rel))
			}
			dirs = append(dirs, th.abs...)
		}
		seen := map[string]bool{}
		for _, d := range dirs {
			real, _, err := p.view.realpath(d)
			if err != nil || seen[real] {
				continue
			}
			seen[real] = true
			for _, name := range b.list(real) {
				c := path.Join(real, name)
				if r, err := p.resolveFile(c); err == nil {
					r.requested = c
					b.helper(r, th.tool+" helper")
				}
			}
		}
	}
}

// keepRunnableScripts drops the helper scripts whose interpreter is not in
// the list (a git-core perl script while perl may not run): the kernel
// would refuse them anyway.
func (b *treeBuilder) keepRunnableScripts() {
	for changed := true; changed; {
		changed = false
		for _, s := range b.scripts {
			if _, in := b.why[s.real]; !in {
				continue
			}
			for _, n := range s.needs {
				if _, ok := b.inodes[n]; !ok {
					b.remove(s.real)
					changed = true
					break
				}
			}
		}
	}
}

func (b *treeBuilder) remove(real string) {
	delete(b.why, real)
	delete(b.host, real)
	for id, p := range b.inodes {
		if p == real {
			delete(b.inodes, id)
		}
	}
}

// loaders adds the dynamic loader named by PT_INTERP of every ELF file in
// the list: the kernel opens it for execution too.
func (b *treeBuilder) loaders() {
	var add []*resolved
	for real := range b.why {
		interp := elfInterpreter(b.host[real])
		if interp == "" || !path.IsAbs(interp) {
			continue
		}
		if r, err := b.p.resolveFile(path.Clean(interp)); err == nil {
			add = append(add, r)
		}
	}
	for _, r := range add {
		b.add(r, "dynamic loader")
	}
}

// elfInterpreter returns the PT_INTERP path of an ELF file, "" for any
// other file or a static executable.
func elfInterpreter(file string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil || string(magic[:]) != elf.ELFMAG {
		return ""
	}
	ef, err := elf.NewFile(f)
	if err != nil {
		return ""
	}
	for _, prog := range ef.Progs {
		if prog.Type != elf.PT_INTERP {
			continue
		}
		data, err := io.ReadAll(io.LimitReader(prog.Open(), 4096))
		if err != nil {
			return ""
		}
		return string(bytes.TrimRight(data, "\x00"))
	}
	return ""
}

// entries returns the entries of the directory dir of the view (none on
// error).
func (b *treeBuilder) entries(dir string) []fs.DirEntry {
	_, host, err := b.p.view.realpath(dir)
	if err != nil {
		return nil
	}
	ents, _ := os.ReadDir(host)
	return ents
}

// list returns the names in the directory dir of the view (none on error).
func (b *treeBuilder) list(dir string) []string {
	ents := b.entries(dir)
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names
}

// expand returns the paths in the view an absolute path or glob may name,
// one component at a time (directories resolved in the view, so a glob in
// a jail never lists a directory outside it). What it returns is a superset
// of what the glob matches: each is checked afterwards.
func (b *treeBuilder) expand(pattern string) ([]string, error) {
	if !strings.ContainsAny(pattern, `*?[\`) {
		return []string{path.Clean(pattern)}, nil
	}
	cur := []string{"/"}
	for _, comp := range splitPath(pattern) {
		var next []string
		for _, c := range cur {
			if !strings.ContainsAny(comp, `*?[\`) {
				next = append(next, path.Join(c, comp))
				continue
			}
			for _, name := range b.list(c) {
				if ok, _ := path.Match(comp, name); ok {
					next = append(next, path.Join(c, name))
				}
			}
			if len(next) > maxGlobCandidates {
				return nil, fmt.Errorf("matches more than %d paths", maxGlobCandidates)
			}
		}
		cur = next
	}
	return cur, nil
}
