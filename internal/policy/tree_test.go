package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// treeFixture is a host-side tree of fake programs: a searchPath
// directory, a git with a libexec/git-core beside it, and helper files.
type treeFixture struct {
	root, bin, core, helpers string
	dash, bash               string // the host's shells (real paths)
}

func newTreeFixture(t *testing.T) *treeFixture {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &treeFixture{
		root: root, bin: filepath.Join(root, "bin"), core: filepath.Join(root, "libexec", "git-core"),
		helpers: filepath.Join(root, "helpers"),
		dash:    hostFile(t, "/bin/dash", "/usr/bin/dash"), bash: hostFile(t, "/bin/bash", "/usr/bin/bash"),
	}
	trueBin := hostFile(t, "/bin/true", "/usr/bin/true")
	for _, d := range []string{f.bin, f.core, f.helpers, filepath.Join(root, "work")} {
		mkdir(t, d)
	}
	b := func(n string) string { return filepath.Join(f.bin, n) }
	copyFile(t, trueBin, b("mytrue"), 0o755)
	copyFile(t, trueBin, b("other"), 0o755)
	copyFile(t, trueBin, b("tool-1.2"), 0o755)
	symlink(t, "tool-1.2", b("tool"))      // allowed "tool": the real file is tool-1.2
	symlink(t, "mytrue", b("alias"))       // its target's name is allowed
	symlink(t, f.bash, b("node"))          // an allowed name that is a shell
	copyFile(t, trueBin, b("sudo"), 0o755) // always blocked
	copyFile(t, trueBin, b("suidtrue"), 0o755|os.ModeSetuid)
	copyFile(t, trueBin, b("git"), 0o755)
	writeFile(t, b("envscript"), "#!/usr/bin/env mytrue\n", 0o755)
	writeFile(t, b("inner"), "#!"+b("mytrue")+"\n", 0o755)
	writeFile(t, b("outer"), "#!"+b("inner")+"\n", 0o755)
	writeFile(t, b("shscript"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, b("notexec"), "data", 0o644)

	c := func(n string) string { return filepath.Join(f.core, n) }
	copyFile(t, trueBin, c("git-remote-https"), 0o755)
	if err := os.Link(c("git-remote-https"), c("git-remote-ftp")); err != nil { // a hard link: the same file
		t.Fatal(err)
	}
	symlink(t, "../../bin/git", c("git-add"))                   // collapses onto bin/git
	writeFile(t, c("git-submodule"), "#!/bin/sh\n", 0o755)      // a shell script
	writeFile(t, c("git-perlish"), "#!"+b("other")+"\n", 0o755) // its interpreter may not run
	writeFile(t, c("git-viamytrue"), "#!"+b("mytrue")+"\n", 0o755)
	copyFile(t, f.dash, c("git-disguised"), 0o755) // a shell by content
	copyFile(t, trueBin, c("git-sudo"), 0o755)
	copyFile(t, trueBin, c("sudo"), 0o755)
	copyFile(t, trueBin, c("git-suid"), 0o755|os.ModeSetuid)
	writeFile(t, c("git-data"), "not a program", 0o644)
	mkdir(t, c("mergetools"))

	h := func(n string) string { return filepath.Join(f.helpers, n) }
	copyFile(t, trueBin, h("make"), 0o755)
	copyFile(t, trueBin, h("env"), 0o755)
	copyFile(t, f.bash, h("bash"), 0o755)
	copyFile(t, f.dash, h("innocent"), 0o755)
	copyFile(t, trueBin, h("suid"), 0o755|os.ModeSetuid)
	writeFile(t, h("viaother"), "#!"+b("other")+"\n", 0o755)
	writeFile(t, h("viamake"), "#!"+h("make")+"\n", 0o755)
	writeFile(t, h("viaenv"), "#!/usr/bin/env mytrue\n", 0o755)
	writeFile(t, h("envmake"), "#!/usr/bin/env make\n", 0o755) // env finds no make in searchPath
	return f
}

func (f *treeFixture) config() config.Config {
	return config.Config{
		AllowedExecutables:     []string{"mytrue", "tool", "node", "sudo*", "suid*", "git", "envscript", "outer", "inner", "shscript", "notexec"},
		BlockSetuidExecutables: true,
		BlockShellInterpreters: true,
		SearchPath:             f.bin,
		HelperExecutables:      []string{f.helpers + "/*"},
		ExecutablePolicyScope:  config.ScopeTree,
		MaxProcessLifetime:     3600,
	}
}

// withToolHelpers keeps the git helpers to the fixture's own git-core
// (not the host's /usr/lib/git-core).
func withToolHelpers(t *testing.T) {
	t.Helper()
	old := toolHelpers
	toolHelpers = slices.Clone(old)
	for i := range toolHelpers {
		toolHelpers[i].abs = nil
	}
	t.Cleanup(func() { toolHelpers = old })
}

func treeMap(t *testing.T, p *Policy) map[string]string {
	t.Helper()
	files, err := p.TreeFiles()
	if err != nil {
		t.Fatalf("TreeFiles: %v", err)
	}
	m := map[string]string{}
	for i, f := range files {
		if i > 0 && files[i-1].Path >= f.Path {
			t.Errorf("not sorted and unique: %q then %q", files[i-1].Path, f.Path)
		}
		m[f.Path] = f.Why
	}
	paths, err := p.TreeExecutables()
	if err != nil || len(paths) != len(files) {
		t.Fatalf("TreeExecutables: %d paths, %v; TreeFiles: %d", len(paths), err, len(files))
	}
	return m
}

func TestTreeFiles(t *testing.T) {
	withToolHelpers(t)
	f := newTreeFixture(t)
	b := func(n string) string { return filepath.Join(f.bin, n) }
	c := func(n string) string { return filepath.Join(f.core, n) }
	h := func(n string) string { return filepath.Join(f.helpers, n) }
	env := hostFile(t, "/usr/bin/env", "/bin/env")

	got := treeMap(t, mustNew(t, f.config()))
	want := map[string]string{
		b("mytrue"):         "allowed",
		b("tool-1.2"):       "allowed",
		b("git"):            "allowed",
		b("envscript"):      "allowed",
		env:                 "env of " + b("envscript"),
		b("inner"):          "allowed",
		b("outer"):          "allowed",
		c("git-sudo"):       "git helper", // not a blocked name
		c("git-remote-ftp"): "git helper", // listed first; its hard link git-remote-https adds nothing
		c("git-viamytrue"):  "git helper",
		h("make"):           "helperExecutables",
		h("viamake"):        "helperExecutables",
		h("viaenv"):         "helperExecutables",
	}
	for p, why := range want {
		if got[p] != why {
			t.Errorf("%s: got %q, want %q", p, got[p], why)
		}
	}
	for _, p := range []string{
		b("tool"), b("alias"), // symlinks: their real files are in
		b("node"), f.bash, // a shell named node
		b("sudo"), b("suidtrue"), b("shscript"), b("other"), b("notexec"), "/bin/sh", f.dash,
		c("git-add"), c("git-remote-https"), c("git-submodule"), c("git-perlish"), c("git-disguised"), c("sudo"), c("git-suid"), c("git-data"), c("mergetools"),
		h("env"), h("bash"), h("innocent"), h("suid"), h("viaother"), h("envmake"),
	} {
		if why, in := got[p]; in {
			t.Errorf("%s is exec-able in the tree (%s), want it left out", p, why)
		}
	}
	// The only other entries are dynamic loaders (the fake programs are
	// copies of the host's dynamically linked true).
	loaders := 0
	for p, why := range got {
		if _, ok := want[p]; ok {
			continue
		}
		if why != "dynamic loader" || !strings.HasPrefix(filepath.Base(p), "ld") {
			t.Errorf("unexpected %s (%s)", p, why)
		}
		loaders++
	}
	if loaders > 1 {
		t.Errorf("%d loaders, want at most 1", loaders)
	}
}

// What the tree allows agrees with Evaluate: every file of the searchPath
// directory that Evaluate lets an agent launch is in the list, and every
// "allowed" entry of the list can be launched.
func TestTreeFilesAgreeWithEvaluate(t *testing.T) {
	withToolHelpers(t)
	f := newTreeFixture(t)
	for name, mod := range map[string]func(*config.Config){
		"names":         func(*config.Config) {},
		"glob of names": func(c *config.Config) { c.AllowedExecutables = []string{"*"} },
		"path glob":     func(c *config.Config) { c.AllowedExecutables = []string{f.bin + "/*"} },
		"paths": func(c *config.Config) {
			c.AllowedExecutables = []string{f.bin + "/tool", f.bin + "/outer", f.bin + "/inner", f.bin + "/mytrue"}
		},
		"shells allowed": func(c *config.Config) {
			c.BlockShellInterpreters = false
			c.AllowedExecutables = []string{"*"}
		},
		"setuid allowed": func(c *config.Config) {
			c.BlockSetuidExecutables = false
			c.AllowedExecutables = []string{"*"}
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := f.config()
			mod(&cfg)
			p := mustNew(t, cfg)
			got := treeMap(t, p)
			ents, err := os.ReadDir(f.bin)
			if err != nil {
				t.Fatal(err)
			}
			launchable := map[string]bool{}
			for _, e := range ents {
				exe := filepath.Join(f.bin, e.Name())
				d := p.Evaluate(Request{Executable: exe, Cwd: f.root + "/work"}, noon)
				if d.Err != nil && d.Err.Layer != string(LayerExecutable) {
					d.Err = nil // a later layer: the executable passed
				}
				real, _ := filepath.EvalSymlinks(exe)
				if d.Err == nil {
					launchable[real] = true
					if _, in := got[real]; !in {
						t.Errorf("%s may be launched but %s is not exec-able in the tree", exe, real)
					}
				}
			}
			for real, why := range got {
				if why == "allowed" && !launchable[real] {
					t.Errorf("%s is in the tree as allowed, but no launch of it is allowed", real)
				}
			}
		})
	}
}

// With shells allowed, /bin/sh's real file is a helper, and so are the
// shell helpers the blocked-shell rules left out.
func TestTreeFilesShellsAllowed(t *testing.T) {
	withToolHelpers(t)
	f := newTreeFixture(t)
	cfg := f.config()
	cfg.BlockShellInterpreters = false
	got := treeMap(t, mustNew(t, cfg))
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skip("no /bin/sh here")
	}
	if got[sh] != "/bin/sh (shells allowed)" {
		t.Errorf("/bin/sh (%s): %q", sh, got[sh])
	}
	for _, p := range []string{filepath.Join(f.core, "git-submodule"), filepath.Join(f.helpers, "bash"), filepath.Join(f.helpers, "innocent")} {
		if _, in := got[p]; !in {
			t.Errorf("%s is left out with shells allowed", p)
		}
	}
	// Still never: always blocked, setuid.
	for _, p := range []string{filepath.Join(f.helpers, "env"), filepath.Join(f.core, "sudo"), filepath.Join(f.helpers, "suid")} {
		if _, in := got[p]; in {
			t.Errorf("%s is exec-able with shells allowed", p)
		}
	}
	// additionalBlockedExecutables removes a helper too.
	cfg.AdditionalBlockedExecutables = []string{"make", filepath.Join(f.core, "git-remote-https"), "git-remote-ftp"}
	got = treeMap(t, mustNew(t, cfg))
	for _, p := range []string{filepath.Join(f.helpers, "make"), filepath.Join(f.core, "git-remote-https"), filepath.Join(f.core, "git-remote-ftp"), filepath.Join(f.helpers, "viamake")} {
		if _, in := got[p]; in {
			t.Errorf("%s is exec-able although additionalBlockedExecutables names it (or its interpreter)", p)
		}
	}
}

// Without git in the allowlist, no git helper; an empty allowlist gives
// an empty list (nothing may run, not even through a tree).
func TestTreeFilesNothingExtra(t *testing.T) {
	withToolHelpers(t)
	f := newTreeFixture(t)
	cfg := f.config()
	cfg.AllowedExecutables = []string{"mytrue"}
	cfg.HelperExecutables = nil
	got := treeMap(t, mustNew(t, cfg))
	for p, why := range got {
		if p != filepath.Join(f.bin, "mytrue") && why != "dynamic loader" {
			t.Errorf("unexpected %s (%s)", p, why)
		}
	}
	cfg.AllowedExecutables = nil
	if got := treeMap(t, mustNew(t, cfg)); len(got) != 0 {
		t.Errorf("empty allowlist: %v", got)
	}
}

// The git-core beside the real git binary is found (a git built into a
// prefix), and on this host the distribution's too.
func TestTreeFilesHostGitCore(t *testing.T) {
	git := hostFile(t, "/usr/bin/git")
	var core string
	for _, d := range []string{"/usr/lib/git-core", "/usr/libexec/git-core"} {
		if _, err := os.Stat(filepath.Join(d, "git-remote-http")); err == nil {
			core = d
		}
	}
	if core == "" {
		t.Skip("no git-core with git-remote-http on this host")
	}
	got := treeMap(t, mustNew(t, config.Config{AllowedExecutables: []string{"git"}, SearchPath: filepath.Dir(git),
		BlockShellInterpreters: true, BlockSetuidExecutables: true, MaxProcessLifetime: 1}))
	if got[filepath.Join(core, "git-remote-http")] != "git helper" {
		t.Errorf("%s/git-remote-http is not a git helper: %v", core, got)
	}
}

// In a jail every path is the one the child sees, and nothing comes from
// the host.
func TestTreeFilesInJail(t *testing.T) {
	j := newJails(t)
	for _, res := range resolutions {
		t.Run(res.name, func(t *testing.T) {
			cfg := j.config(j.jail)
			cfg.AllowedExecutables = []string{"jtrue", "envscript", "script", "link", "sh", "python3", "suid", "/opt/*"}
			cfg.HelperExecutables = []string{"/usr/bin/*", "/bin/s*"}
			got := treeMap(t, mustNew(t, cfg, res.opts...))
			want := map[string]string{
				"/bin/jtrue":     "allowed",
				"/bin/true":      "allowed",
				"/bin/envscript": "allowed",
				"/usr/bin/env":   "env of /bin/envscript",
				"/bin/script":    "allowed",
			}
			for p, why := range want {
				if got[p] != why {
					t.Errorf("%s: got %q, want %q (all: %v)", p, got[p], why, got)
				}
			}
			for p, why := range got {
				if _, ok := want[p]; !ok {
					t.Errorf("unexpected %s (%s)", p, why) // sh, the dash copy, sudo, suid, host files
				}
			}
		})
	}
}

// A glob that would make every launch open thousands of files is refused.
func TestTreeFilesTooMany(t *testing.T) {
	withToolHelpers(t)
	f := newTreeFixture(t)
	old := treeLimit
	treeLimit = 40
	t.Cleanup(func() { treeLimit = old })
	many := filepath.Join(f.root, "many")
	mkdir(t, many)
	for i := range treeLimit + 1 {
		writeFile(t, filepath.Join(many, fmt.Sprintf("p%d", i)), "\x7fELF-ish", 0o755)
	}
	cfg := f.config()
	cfg.HelperExecutables = []string{many + "/*"}
	_, err := mustNew(t, cfg).TreeFiles()
	if ec := errcode.As(err); ec == nil || ec.Code != errcode.InvalidInput || !strings.Contains(ec.Message, "tree scope") || ec.Remedy == "" {
		t.Fatalf("got %v, want INVALID_INPUT about the tree scope", err)
	}
	cfg.HelperExecutables = []string{many + "/p1*"}
	if _, err := mustNew(t, cfg).TreeFiles(); err != nil {
		t.Fatalf("a narrower glob: %v", err)
	}
}
