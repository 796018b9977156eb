package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// jails are real directory trees used as chroot roots. The host is checked
// not to have /bin/jtrue, so a file found there can only come from a jail.
type jails struct {
	jail  string // full jail (realpath)
	bare  string // a jail with bin/link -> /bin/true but no bin/true
	shell string // a jail whose own sh is not a shell of the host
}

func newJails(t *testing.T) *jails {
	t.Helper()
	if _, err := os.Lstat("/bin/jtrue"); err == nil {
		t.Skip("the host has /bin/jtrue; the jail tests need a name only the jail has")
	}
	trueBin := hostFile(t, "/bin/true", "/usr/bin/true")
	dash := hostFile(t, "/bin/dash", "/usr/bin/dash")
	hostFile(t, "/bin/ls", "/usr/bin/ls")
	top, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	j := &jails{jail: filepath.Join(top, "jail"), bare: filepath.Join(top, "bare"), shell: filepath.Join(top, "shelljail")}
	in := func(rel string) string { return filepath.Join(j.jail, rel) }
	for _, d := range []string{"bin", "usr/bin", "etc", "lnk", "opt", "loop", "work/sub", "work/secret"} {
		mkdir(t, in(d))
	}
	copyFile(t, trueBin, in("bin/true"), 0o755)
	copyFile(t, trueBin, in("bin/jtrue"), 0o755)
	copyFile(t, trueBin, in("usr/bin/sudo"), 0o755)
	copyFile(t, trueBin, in("usr/bin/env"), 0o755)
	copyFile(t, trueBin, in("bin/suid"), 0o755|os.ModeSetuid)
	copyFile(t, dash, in("bin/sh"), 0o755)      // the jail's sh: a copy of the host's dash
	copyFile(t, dash, in("bin/python3"), 0o755) // a shell in disguise
	copyFile(t, trueBin, in("etc/passwd"), 0o755)
	symlink(t, "/bin/true", in("bin/link"))                 // absolute: the jail's /bin/true
	symlink(t, "../../../../../../bin/jtrue", in("bin/up")) // climbs past the root: clamped
	symlink(t, "/usr/bin/sudo", in("bin/helper"))
	symlink(t, "/etc", in("lnk/etc"))
	symlink(t, "/bin/jtrue", in("opt/x"))
	symlink(t, "b", in("loop/a"))
	symlink(t, "a", in("loop/b"))
	symlink(t, "../../..", in("work/escape"))
	symlink(t, "/etc", in("work/abs"))
	writeFile(t, in("bin/script"), "#!/bin/jtrue\n", 0o755)
	writeFile(t, in("bin/linkscript"), "#!/bin/link\n", 0o755)
	writeFile(t, in("bin/lsscript"), "#!/bin/ls\n", 0o755)
	writeFile(t, in("bin/shscript"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, in("bin/pyscript"), "#!/bin/python3\n", 0o755)
	writeFile(t, in("bin/envscript"), "#!/usr/bin/env jtrue\n", 0o755)

	mkdir(t, filepath.Join(j.bare, "bin"))
	mkdir(t, filepath.Join(j.bare, "work"))
	symlink(t, "/bin/true", filepath.Join(j.bare, "bin", "link"))

	// A shell found only in the jail: its own sh, and a copy named tool.
	mkdir(t, filepath.Join(j.shell, "bin"))
	mkdir(t, filepath.Join(j.shell, "work"))
	writeFile(t, filepath.Join(j.shell, "bin", "sh"), "\x7fELF not a real shell, unique to this jail\n", 0o755)
	writeFile(t, filepath.Join(j.shell, "bin", "tool"), "\x7fELF not a real shell, unique to this jail\n", 0o755)
	return j
}

func (j *jails) config(root string) config.Config {
	return config.Config{
		EnableChroot:              true,
		ChrootDirectory:           root,
		AllowedExecutables:        []string{"jtrue", "true", "/etc/passwd", "python3", "pyscript", "shscript", "script", "linkscript", "lsscript", "envscript", "suid", "helper", "tool", "link"},
		BlockSetuidExecutables:    true,
		BlockShellInterpreters:    true,
		SearchPath:                "/usr/local/bin:/bin",
		BlockInjectionPatterns:    true,
		AllowedWorkingDirectories: []string{"/work"},
		BlockedWorkingDirectories: []string{"/work/secret"},
		MaxProcessLifetime:        3600,
	}
}

// resolutions is how each test sees a jail: with openat2 and with the walk.
var resolutions = []struct {
	name string
	opts []Option
}{{"openat2", nil}, {"walk", []Option{WithoutOpenat2()}}}

func TestChrootResolvesInsideJail(t *testing.T) {
	j := newJails(t)
	jp := func(rel string) string { return filepath.Join(j.jail, rel) }
	tests := []struct {
		name     string
		root     string // jail; "" = j.jail
		cfg      func(*config.Config)
		exe, cwd string
		want     errcode.Code
		inMsg    string
		path     string // want Spec.Path (host path)
		dir      string // want Spec.Dir (inside the jail)
		interp   string // want Spec.Interpreter (inside the jail)
	}{
		{name: "bare name found in the jail's searchPath", exe: "jtrue", path: jp("bin/jtrue"), dir: "/work"},
		{name: "absolute path is inside the jail", exe: "/bin/jtrue", path: jp("bin/jtrue"), dir: "/work"},
		{name: "absolute symlink resolves inside the jail", exe: "/bin/link", path: jp("bin/true")},
		{name: "absolute symlink found by bare name", exe: "link", path: jp("bin/true")},
		{name: "dot-dot in the executable stays inside", exe: "/bin/../../../../etc/passwd", path: jp("etc/passwd")},
		{name: "relative symlink climbing past the root is clamped", exe: "/bin/up", path: jp("bin/jtrue")},
		{name: "host-only program is not found by name", exe: "ls", want: errcode.ExecutableNotFound, inMsg: "inside the jail"},
		{name: "host-only program is not found by path", exe: "/bin/ls", want: errcode.ExecutableNotFound, inMsg: "inside the jail"},
		{name: "symlink to a file only the host has", root: j.bare, exe: "/bin/link", want: errcode.ExecutableNotFound},
		{name: "jail's sh is a shell", exe: "sh", want: errcode.ShellBlocked},
		{name: "#!/bin/sh script in the jail", exe: "shscript", want: errcode.ShellBlocked},
		{name: "copy of the host's dash under another name", exe: "python3", want: errcode.ShellBlocked, inMsg: "identical to the shell"},
		{name: "script whose interpreter is a dash copy", exe: "pyscript", want: errcode.ShellBlocked},
		{name: "shell that exists only in the jail", root: j.shell, exe: "tool", want: errcode.ShellBlocked, inMsg: "identical to the shell"},
		{name: "#! interpreter resolved in the jail", exe: "script", path: jp("bin/script"), interp: "/bin/jtrue"},
		{name: "#! interpreter symlink resolved in the jail", exe: "linkscript", path: jp("bin/linkscript"), interp: "/bin/true"},
		{name: "#! interpreter only the host has", exe: "lsscript", want: errcode.ExecutableNotFound},
		{name: "#!/usr/bin/env program looked up in the jail", exe: "envscript", path: jp("bin/envscript"), interp: "/bin/jtrue"},
		{name: "setuid file in the jail", exe: "suid", want: errcode.SetuidBlocked},
		{name: "symlink to the jail's sudo", exe: "helper", want: errcode.ExecutableBlocked},
		{name: "additional blocked path is inside the jail", exe: "jtrue", cfg: func(c *config.Config) { c.AdditionalBlockedExecutables = []string{"/opt/x"} }, want: errcode.ExecutableBlocked},
		{name: "allowlist path names the jail's file", exe: "jtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"/bin/jtrue"} }, path: jp("bin/jtrue")},
		{name: "allowlist path's symlink resolved in the jail", exe: "jtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"/opt/x"} }, path: jp("bin/jtrue")},
		{name: "allowlist glob matches the path inside the jail", exe: "jtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"/bin/j*"} }, path: jp("bin/jtrue")},
		{name: "allowlist host path does not match", exe: "jtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{jp("bin/jtrue")} }, want: errcode.ExecutableNotAllowed},
		{name: "allowlist name matches the basename inside the jail", exe: "/bin/link", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"true"} }, path: jp("bin/true")},
		{name: "cwd inside the jail", exe: "jtrue", cwd: "/work/sub", dir: "/work/sub"},
		{name: "cwd dot-dot clamped at the root", exe: "jtrue", cwd: "/work/../../../../work/sub", dir: "/work/sub"},
		{name: "cwd symlink escaping upwards lands on the jail root", exe: "jtrue", cwd: "/work/escape", want: errcode.CwdNotAllowed, inMsg: "resolved to / (inside the jail"},
		{name: "cwd symlink escape, root allowed", exe: "jtrue", cwd: "/work/escape", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{"/"} }, dir: "/"},
		{name: "cwd absolute symlink stays inside", exe: "jtrue", cwd: "/work/abs", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{"/lnk/etc"} }, dir: "/etc"},
		{name: "cwd blocked inside the jail", exe: "jtrue", cwd: "/work/secret", want: errcode.CwdNotAllowed},
		{name: "cwd the host has but the jail does not", exe: "jtrue", cwd: "/var", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{"/"} }, want: errcode.CwdNotFound, inMsg: "inside the jail"},
		{name: "allowed directory named by host path allows nothing", exe: "jtrue", cwd: "/work", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{jp("work")} }, want: errcode.CwdNotAllowed},
	}
	for _, res := range resolutions {
		for _, tc := range tests {
			t.Run(res.name+"/"+tc.name, func(t *testing.T) {
				root := tc.root
				if root == "" {
					root = j.jail
				}
				cfg := j.config(root)
				if tc.cfg != nil {
					tc.cfg(&cfg)
				}
				p := mustNew(t, cfg, res.opts...)
				d := p.Evaluate(Request{Executable: tc.exe, Cwd: tc.cwd}, noon)
				checkDecision(t, d, tc.want, "")
				if tc.want != "" {
					if !strings.Contains(d.Err.Message, tc.inMsg) {
						t.Fatalf("message %q does not contain %q", d.Err.Message, tc.inMsg)
					}
					return
				}
				s := d.Spec
				if s.Root != root {
					t.Errorf("Root = %q, want %q", s.Root, root)
				}
				if tc.path != "" && s.Path != tc.path {
					t.Errorf("Path = %q, want %q", s.Path, tc.path)
				}
				if !strings.HasPrefix(s.Path, root+"/") {
					t.Errorf("Path %q is not beneath the jail %s", s.Path, root)
				}
				fi, err := os.Stat(s.Path)
				if err != nil {
					t.Fatal(err)
				}
				if dev, ino := fileID(fi); dev != s.Dev || ino != s.Ino {
					t.Errorf("Dev/Ino = %d/%d, want those of %s: %d/%d", s.Dev, s.Ino, s.Path, dev, ino)
				}
				if tc.dir != "" && s.Dir != tc.dir {
					t.Errorf("Dir = %q, want %q", s.Dir, tc.dir)
				}
				if s.Script != (tc.interp != "") || s.Interpreter != tc.interp {
					t.Errorf("Script/Interpreter = %v/%q, want %q", s.Script, s.Interpreter, tc.interp)
				}
				if s.Argv[0] != tc.exe {
					t.Errorf("Argv[0] = %q, want %q", s.Argv[0], tc.exe)
				}
			})
		}
	}
}

// TestViewRealpath checks the jail view on its own: both resolvers give the
// same answers, and nothing resolves outside the root.
func TestViewRealpath(t *testing.T) {
	j := newJails(t)
	tests := []struct {
		in   string
		want string // inside the jail; "" = an error
		err  error
	}{
		{in: "/", want: "/"},
		{in: "/bin/jtrue", want: "/bin/jtrue"},
		{in: "/bin/link", want: "/bin/true"},
		{in: "/bin/up", want: "/bin/jtrue"},
		{in: "/../../../etc/passwd", want: "/etc/passwd"},
		{in: "/work/escape", want: "/"},
		{in: "/work/escape/../../etc/passwd", want: "/etc/passwd"},
		{in: "/work/abs/passwd", want: "/etc/passwd"},
		{in: "/lnk/etc", want: "/etc"},
		{in: "/lnk/etc/../bin/./jtrue", want: "/bin/jtrue"},
		{in: "/work/", want: "/work"},
		{in: "/bin/ls", err: fs.ErrNotExist},
		{in: "/work/escape/var/lib", err: fs.ErrNotExist},
		{in: "/loop/a", err: syscall.ELOOP},
		{in: "/etc/passwd/x", err: syscall.ENOTDIR},
		{in: "/etc/passwd/", err: syscall.ENOTDIR},
	}
	for _, res := range []struct {
		name string
		v    view
	}{{"openat2", view{root: j.jail}}, {"walk", view{root: j.jail, noOpenat2: true}}} {
		for _, tc := range tests {
			t.Run(res.name+tc.in, func(t *testing.T) {
				inner, host, err := res.v.realpath(tc.in)
				if tc.want == "" {
					if !errors.Is(err, tc.err) {
						t.Fatalf("realpath(%q) = %q, %q, %v; want error %v", tc.in, inner, host, err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("realpath(%q): %v", tc.in, err)
				}
				wantHost := j.jail
				if tc.want != "/" {
					wantHost += tc.want
				}
				if inner != tc.want || host != wantHost {
					t.Fatalf("realpath(%q) = %q, %q; want %q, %q", tc.in, inner, host, tc.want, wantHost)
				}
			})
		}
	}
	if _, ok, _ := resolveInRootOpenat2(j.jail, "/bin/jtrue"); !ok {
		t.Log("openat2(RESOLVE_IN_ROOT) unavailable here: the openat2 cases ran the walk")
	}
}

func TestChrootConfig(t *testing.T) {
	j := newJails(t)
	top := filepath.Dir(j.jail)
	symlink(t, j.jail, filepath.Join(top, "jail-link"))
	tests := []struct {
		name     string
		enable   bool
		dir      string
		want     errcode.Code
		wantRoot string
	}{
		{name: "jail root is realpath'd", enable: true, dir: filepath.Join(top, "jail-link"), wantRoot: j.jail},
		{name: "missing jail", enable: true, dir: filepath.Join(top, "nope"), want: errcode.InvalidInput},
		{name: "jail is a file", enable: true, dir: filepath.Join(j.jail, "bin", "jtrue"), want: errcode.InvalidInput},
		{name: "relative jail", enable: true, dir: "jail", want: errcode.InvalidInput},
		// No chrootDirectory: a jail composed at launch holds host paths at
		// their own paths (SPEC 7.3), so the policy resolves on the host.
		{name: "composed jail", enable: true, wantRoot: ""},
		{name: "chrootDirectory ignored without enableChroot", dir: j.jail, wantRoot: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := j.config(tc.dir)
			cfg.EnableChroot = tc.enable
			p, err := New(&cfg)
			if tc.want != "" {
				var e *errcode.Error
				if !errors.As(err, &e) || e.Code != tc.want || !strings.Contains(e.Message, "chrootDirectory") {
					t.Fatalf("New: %v, want %s naming chrootDirectory", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Root() != tc.wantRoot {
				t.Fatalf("Root() = %q, want %q", p.Root(), tc.wantRoot)
			}
		})
	}
}

// TestWithoutChrootUnchanged: without enableChroot paths are host paths and
// Spec.Root is empty.
func TestWithoutChrootUnchanged(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.ChrootDirectory = f.outside // ignored: enableChroot is false
	p := mustNew(t, cfg)
	d := p.Evaluate(Request{Executable: "tool", Cwd: filepath.Join(f.work, "sub")}, noon)
	checkDecision(t, d, errcode.ExecutableNotAllowed, LayerExecutable)
	d = p.Evaluate(Request{Executable: "mytrue", Cwd: filepath.Join(f.work, "sub")}, noon)
	checkDecision(t, d, "", "")
	if d.Spec.Root != "" || d.Spec.Path != filepath.Join(f.bin, "mytrue") || d.Spec.Dir != filepath.Join(f.work, "sub") {
		t.Fatalf("Spec = %+v", d.Spec)
	}
}
