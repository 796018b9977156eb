package policy

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// fixture is a small filesystem: a searchPath directory with executables,
// scripts and attack files, a directory outside searchPath, and working
// directories.
type fixture struct {
	root    string // realpath of the temp dir
	bin     string // the searchPath directory
	outside string // executables not in searchPath
	work    string // allowed working directory
	trueBin string // realpath of the host's true
}

func hostFile(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if r, err := filepath.EvalSymlinks(n); err == nil {
			return r
		}
	}
	t.Skipf("none of %v on this host", names)
	return ""
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil { // umask and setuid bits
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, p string) {
	t.Helper()
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		root:    root,
		bin:     filepath.Join(root, "bin"),
		outside: filepath.Join(root, "outside"),
		work:    filepath.Join(root, "app", "work"),
		trueBin: hostFile(t, "/bin/true", "/usr/bin/true"),
	}
	bash := hostFile(t, "/bin/bash", "/usr/bin/bash")
	for _, d := range []string{f.bin, f.outside, f.work, filepath.Join(root, "app", "workshop"), filepath.Join(f.work, "sub"), filepath.Join(f.work, "secret")} {
		mkdir(t, d)
	}
	b := func(n string) string { return filepath.Join(f.bin, n) }
	copyFile(t, f.trueBin, b("mytrue"), 0o755)
	copyFile(t, f.trueBin, b("other"), 0o755)
	copyFile(t, f.trueBin, b("tool-1.2"), 0o755)
	symlink(t, "tool-1.2", b("tool")) // like python3 -> python3.11
	symlink(t, b("tool-1.2"), filepath.Join(f.outside, "tool"))
	symlink(t, bash, b("node")) // an allowed name pointing to a shell
	copyFile(t, f.trueBin, b("suidtrue"), 0o755|os.ModeSetuid)
	copyFile(t, f.trueBin, b("sgidtrue"), 0o755|os.ModeSetgid)
	writeFile(t, b("notexec"), "data", 0o644)
	writeFile(t, b("shscript"), "#!/bin/sh\necho hi\n", 0o755)
	writeFile(t, b("envbash"), "#!/usr/bin/env bash\necho hi\n", 0o755)
	writeFile(t, b("envok"), "#!/usr/bin/env mytrue\n", 0o755)
	writeFile(t, b("envopts"), "#!/usr/bin/env -S LD_PRELOAD=/tmp/x.so mytrue\n", 0o755)
	writeFile(t, b("absok"), "#!"+b("mytrue")+" -x\n", 0o755)
	writeFile(t, b("toother"), "#!"+b("other")+"\n", 0o755)
	writeFile(t, b("tosudo"), "#!/usr/bin/sudo\n", 0o755)
	writeFile(t, b("relinterp"), "#!mytrue\n", 0o755)
	writeFile(t, b("missinginterp"), "#!/nonexistent/interp\n", 0o755)
	writeFile(t, b("tosuid"), "#!"+b("suidtrue")+"\n", 0o755)
	writeFile(t, b("nested"), "#!"+b("absok")+"\n", 0o755)
	copyFile(t, f.trueBin, filepath.Join(f.outside, "hidden"), 0o755)
	copyFile(t, f.trueBin, filepath.Join(f.outside, "mytrue"), 0o755)
	symlink(t, bash, filepath.Join(f.outside, "node"))
	return f
}

// baseConfig allows mytrue only, with the safety switches on.
func (f *fixture) baseConfig() config.Config {
	return config.Config{
		AllowedExecutables:        []string{"mytrue"},
		BlockSetuidExecutables:    true,
		BlockShellInterpreters:    true,
		SearchPath:                f.bin,
		BlockInjectionPatterns:    true,
		AllowedWorkingDirectories: []string{f.work},
		MaxProcessLifetime:        3600,
	}
}

func mustNew(t *testing.T, cfg config.Config, opts ...Option) *Policy {
	t.Helper()
	p, err := New(&cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// noon is a fixed instant used where time windows do not matter.
var noon = time.Date(2024, 1, 8, 12, 0, 0, 0, time.UTC)

func checkDecision[L ~string](t *testing.T, d Decision, want errcode.Code, layer L) {
	t.Helper()
	if want == "" {
		if !d.Allow || d.Err != nil || d.Spec == nil {
			t.Fatalf("want allowed, got %+v (err %v)", d, d.Err)
		}
		return
	}
	if d.Allow || d.Err == nil || d.Spec != nil {
		t.Fatalf("want %s, got allowed %+v", want, d)
	}
	if d.Err.Code != want {
		t.Fatalf("want %s, got %v", want, d.Err)
	}
	if layer != "" && d.Err.Layer != string(layer) {
		t.Fatalf("want layer %s, got %v", layer, d.Err)
	}
	if d.Err.Remedy == "" {
		t.Fatalf("no remedy in %v", d.Err)
	}
	wantViolation := !slices.Contains([]errcode.Code{errcode.ExecutableNotFound, errcode.CwdNotFound, errcode.InvalidInput}, want)
	if d.Err.Violation != wantViolation {
		t.Fatalf("Violation = %v, want %v for %v", d.Err.Violation, wantViolation, d.Err)
	}
}

func TestExecutable(t *testing.T) {
	f := newFixture(t)
	b := func(n string) string { return filepath.Join(f.bin, n) }
	tests := []struct {
		name  string
		exe   string
		cfg   func(*config.Config)
		want  errcode.Code
		inMsg string
	}{
		{name: "allowed bare name", exe: "mytrue"},
		{name: "allowed absolute path in searchPath", exe: b("mytrue")},
		{name: "name entry matches basename anywhere", exe: filepath.Join(f.outside, "mytrue")},
		{name: "empty name", exe: "", want: errcode.InvalidInput},
		{name: "NUL in name", exe: "my\x00true", want: errcode.InvalidInput},
		{name: "dot slash relative", exe: "./mytrue", want: errcode.ExecutableNotAllowed},
		{name: "relative with slash", exe: "bin/mytrue", want: errcode.ExecutableNotAllowed},
		{name: "always blocked, upper case, not existing", exe: "SUDO", want: errcode.ExecutableBlocked},
		{name: "always blocked absolute not existing", exe: "/nonexistent/sudo", want: errcode.ExecutableBlocked},
		{name: "mkfs glob", exe: "mkfs.ext4", want: errcode.ExecutableBlocked},
		{name: "exec wrapper env", exe: "/usr/bin/env", want: errcode.ExecutableBlocked},
		{name: "additional blocked name", exe: "mytrue", cfg: func(c *config.Config) { c.AdditionalBlockedExecutables = []string{"MyTrue"} }, want: errcode.ExecutableBlocked},
		{name: "additional blocked path", exe: "mytrue", cfg: func(c *config.Config) { c.AdditionalBlockedExecutables = []string{b("mytrue")} }, want: errcode.ExecutableBlocked},
		{name: "blocked resolved basename", exe: "tool", cfg: func(c *config.Config) {
			c.AdditionalBlockedExecutables = []string{"tool-1.2"}
			c.AllowedExecutables = []string{"tool"}
		}, want: errcode.ExecutableBlocked},
		{name: "not found in searchPath", exe: "nosuchprogram", want: errcode.ExecutableNotFound},
		{name: "in request PATH dir only", exe: "hidden", want: errcode.ExecutableNotFound},
		{name: "not executable", exe: "notexec", want: errcode.ExecutableNotFound},
		{name: "directory", exe: f.bin, want: errcode.ExecutableNotFound},
		{name: "missing absolute", exe: b("nope"), want: errcode.ExecutableNotFound},
		{name: "symlink named node to bash", exe: "node", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"node"} }, want: errcode.ShellBlocked},
		{name: "symlink named node to bash outside searchPath", exe: filepath.Join(f.outside, "node"), cfg: func(c *config.Config) { c.AllowedExecutables = []string{"node"} }, want: errcode.ShellBlocked},
		{name: "shell by name", exe: "/bin/sh", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"*"} }, want: errcode.ShellBlocked},
		{name: "#!/bin/sh script", exe: "shscript", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"shscript"} }, want: errcode.ShellBlocked},
		{name: "#!/usr/bin/env bash script", exe: "envbash", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"envbash", "bash"} }, want: errcode.ShellBlocked},
		{name: "env script with options", exe: "envopts", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"envopts", "mytrue"} }, want: errcode.ExecutableBlocked},
		{name: "env script allowed", exe: "envok", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"envok", "mytrue"} }},
		{name: "env script interpreter not allowed", exe: "envok", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"envok"} }, want: errcode.ExecutableNotAllowed, inMsg: "mytrue"},
		{name: "abs script allowed", exe: "absok", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"absok", "mytrue"} }},
		{name: "nested script allowed", exe: "nested", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"nested", "absok", "mytrue"} }},
		{name: "nested script inner not allowed", exe: "nested", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"nested", "absok"} }, want: errcode.ExecutableNotAllowed},
		{name: "script interpreter not allowed", exe: "toother", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"toother"} }, want: errcode.ExecutableNotAllowed},
		{name: "script interpreter blocked", exe: "tosudo", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tosudo"} }, want: errcode.ExecutableBlocked},
		{name: "script interpreter relative", exe: "relinterp", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"relinterp", "mytrue"} }, want: errcode.ExecutableNotAllowed},
		{name: "script interpreter missing", exe: "missinginterp", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"missinginterp"} }, want: errcode.ExecutableNotFound},
		{name: "script interpreter setuid", exe: "tosuid", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tosuid", "suidtrue"} }, want: errcode.SetuidBlocked},
		{name: "shell script allowed when shells allowed", exe: "shscript", cfg: func(c *config.Config) {
			c.BlockShellInterpreters = false
			c.AllowedExecutables = []string{"shscript", "dash", "sh", "bash"}
		}},
		{name: "setuid", exe: "suidtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"suidtrue"} }, want: errcode.SetuidBlocked},
		{name: "setgid", exe: "sgidtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"sgidtrue"} }, want: errcode.SetuidBlocked},
		{name: "setuid allowed when switch off", exe: "suidtrue", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"suidtrue"}; c.BlockSetuidExecutables = false }},
		{name: "not in allowlist", exe: "other", want: errcode.ExecutableNotAllowed, inMsg: "other"},
		{name: "empty allowlist", exe: "mytrue", cfg: func(c *config.Config) { c.AllowedExecutables = nil }, want: errcode.ExecutableNotAllowed, inMsg: "empty"},
		{name: "name found through searchPath symlink", exe: "tool", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tool"} }},
		{name: "absolute path in searchPath dir keeps its name", exe: b("tool"), cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tool"} }},
		{name: "symlink outside searchPath resolves to another name", exe: filepath.Join(f.outside, "tool"), cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tool"} }, want: errcode.ExecutableNotAllowed},
		{name: "resolved basename entry", exe: "tool", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"tool-1.2"} }},
		{name: "path entry", exe: "other", cfg: func(c *config.Config) { c.AllowedExecutables = []string{b("other")} }},
		{name: "path entry through symlink", exe: "tool", cfg: func(c *config.Config) { c.AllowedExecutables = []string{b("tool")} }},
		{name: "path entry does not allow another file", exe: filepath.Join(f.outside, "mytrue"), cfg: func(c *config.Config) { c.AllowedExecutables = []string{b("mytrue")} }, want: errcode.ExecutableNotAllowed},
		{name: "glob entry", exe: "other", cfg: func(c *config.Config) { c.AllowedExecutables = []string{f.bin + "/oth*"} }},
		{name: "glob entry no match", exe: filepath.Join(f.outside, "mytrue"), cfg: func(c *config.Config) { c.AllowedExecutables = []string{f.bin + "/*"} }, want: errcode.ExecutableNotAllowed},
		{name: "name glob", exe: "other", cfg: func(c *config.Config) { c.AllowedExecutables = []string{"oth?r"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			p := mustNew(t, cfg)
			d := p.Evaluate(Request{Executable: tc.exe, Cwd: f.work, Env: map[string]string{"PATH": f.outside}}, noon)
			if tc.want == "" {
				// The request's PATH is refused later, by the environment layer:
				// the executable layer passed.
				checkDecision(t, d, errcode.EnvInvalid, LayerEnvironment)
				return
			}
			checkDecision(t, d, tc.want, "")
			if tc.inMsg != "" && !strings.Contains(d.Err.Message, tc.inMsg) {
				t.Fatalf("message %q does not name %q", d.Err.Message, tc.inMsg)
			}
		})
	}
}

func TestRenamedShellCopy(t *testing.T) {
	f := newFixture(t)
	for _, sh := range []string{"/bin/dash", "/bin/bash"} {
		real, err := filepath.EvalSymlinks(sh)
		if err != nil {
			continue
		}
		t.Run(sh, func(t *testing.T) {
			copyFile(t, real, filepath.Join(f.bin, "innocent"), 0o755)
			cfg := f.baseConfig()
			cfg.AllowedExecutables = []string{"innocent"}
			d := mustNew(t, cfg).Evaluate(Request{Executable: "innocent", Cwd: f.work}, noon)
			checkDecision(t, d, errcode.ShellBlocked, LayerExecutable)
			if !strings.Contains(d.Err.Message, "content") {
				t.Fatalf("want a content match, got %v", d.Err)
			}
			// With shell blocking off the same file runs.
			cfg.BlockShellInterpreters = false
			checkDecision(t, mustNew(t, cfg).Evaluate(Request{Executable: "innocent", Cwd: f.work}, noon), "", "")
		})
	}
}

func TestSpecFilled(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.AllowedExecutables = []string{"tool", "absok", "mytrue"}
	cfg.DefaultResourceLimits = config.ResourceLimits{MaxMemoryMB: 256, MaxProcesses: 5}
	cfg.InheritEnvVars = []string{"KEEP", "UNSET"}
	env := map[string]string{"HOME": "/home/srv", "XDG_STATE_HOME": "/state", "KEEP": "kept", "SECRET": "no"}
	p := mustNew(t, cfg, WithGetenv(func(k string) string { return env[k] }))
	const home = "/state/mcp-process/homes/%" // agent "": not the server's HOME

	d := p.Evaluate(Request{Executable: "tool", Args: []string{"-v", "x"}, Env: map[string]string{"FOO": "bar", "LANG": "de_DE.UTF-8"}, Timeout: 5 * time.Second}, noon)
	checkDecision(t, d, "", "")
	s := d.Spec
	if want := filepath.Join(f.bin, "tool-1.2"); s.Path != want {
		t.Errorf("Path = %s, want %s", s.Path, want)
	}
	wantDev, wantIno := fileID(mustStat(t, s.Path))
	if s.Dev != wantDev || s.Ino != wantIno || s.Ino == 0 {
		t.Errorf("Dev/Ino = %d/%d, want %d/%d", s.Dev, s.Ino, wantDev, wantIno)
	}
	if !slices.Equal(s.Argv, []string{"tool", "-v", "x"}) {
		t.Errorf("Argv = %q", s.Argv)
	}
	wantEnv := []string{"FOO=bar", "HOME=" + home, "KEEP=kept", "LANG=de_DE.UTF-8", "PATH=" + f.bin, "TERM=dumb", "TMPDIR=/tmp"}
	if !slices.Equal(s.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", s.Env, wantEnv)
	}
	if s.Dir != f.work {
		t.Errorf("Dir = %s, want %s (the first allowed directory)", s.Dir, f.work)
	}
	if s.Limits != (config.ResourceLimits{MaxMemoryMB: 256, MaxProcesses: 5}) {
		t.Errorf("Limits = %+v", s.Limits)
	}
	if s.Lifetime != 5*time.Second {
		t.Errorf("Lifetime = %v", s.Lifetime)
	}
	if s.Script {
		t.Errorf("Script = true for a binary")
	}

	d = p.Evaluate(Request{Executable: "absok"}, noon)
	checkDecision(t, d, "", "")
	if !d.Spec.Script || d.Spec.Interpreter != filepath.Join(f.bin, "mytrue") {
		t.Errorf("Script/Interpreter = %v/%s", d.Spec.Script, d.Spec.Interpreter)
	}
	if d.Spec.Lifetime != time.Hour {
		t.Errorf("Lifetime = %v, want maxProcessLifetime", d.Spec.Lifetime)
	}
	wantEnv = []string{"HOME=" + home, "KEEP=kept", "LANG=C.UTF-8", "PATH=" + f.bin, "TERM=dumb", "TMPDIR=/tmp"}
	if !slices.Equal(d.Spec.Env, wantEnv) {
		t.Errorf("Env = %q, want %q", d.Spec.Env, wantEnv)
	}

	if d.Spec.Home != home {
		t.Errorf("Home = %q, want %s", d.Spec.Home, home)
	}
}

func mustStat(t *testing.T, p string) os.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestLayerOrder: the first failing layer wins.
func TestLayerOrder(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.BlockedTimeWindows = []string{"* *"}
	bad := Request{Executable: "SUDO", Args: []string{"a;b"}, Env: map[string]string{"LD_PRELOAD": "x"}, Cwd: "/", Limits: config.ResourceLimits{MaxMemoryMB: -1}}
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.OutsideTimeWindow, LayerTimeWindow)
	cfg.BlockedTimeWindows = nil
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.ExecutableBlocked, LayerExecutable)
	bad.Executable = "mytrue"
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.ArgumentInvalid, LayerArguments)
	bad.Args = nil
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.EnvInvalid, LayerEnvironment)
	bad.Env = nil
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.CwdNotAllowed, LayerWorkingDirectory)
	bad.Cwd = ""
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), errcode.InvalidInput, LayerResourceLimits)
	bad.Limits = config.ResourceLimits{}
	checkDecision(t, mustNew(t, cfg).Evaluate(bad, noon), "", "")
}

func TestNewErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name string
		cfg  func(*config.Config)
		key  string
	}{
		// The values config.Validate checks are its alone (issue 9); these
		// are what only New sees.
		{"bad window", func(c *config.Config) { c.AllowedTimeWindows = []string{"* *", "Mon 9-17"} }, "allowedTimeWindows[1]"},
		{"bad blocked window day", func(c *config.Config) { c.BlockedTimeWindows = []string{"Xyz *"} }, "blockedTimeWindows[0]"},
		{"bad window zone", func(c *config.Config) { c.BlockedTimeWindows = []string{"* * Mars/Olympus"} }, "blockedTimeWindows[0]"},
		{"bad timeZone", func(c *config.Config) { c.TimeZone = "Nowhere/City" }, "timeZone"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			tc.cfg(&cfg)
			p, err := New(&cfg)
			if err == nil || p != nil {
				t.Fatalf("New accepted the config")
			}
			e, ok := err.(*errcode.Error)
			if !ok || e.Code != errcode.InvalidInput || !strings.Contains(e.Message, tc.key) || e.Remedy == "" {
				t.Fatalf("want INVALID_INPUT naming %s, got %v", tc.key, err)
			}
		})
	}
	if _, err := New(nil); err == nil {
		t.Fatal("New(nil) accepted")
	}
	// A config that did not pass config.Validate: a pattern that cannot be
	// compiled is an internal error naming the key, never a policy without it.
	cfg := f.baseConfig()
	cfg.BlockedArgumentPatterns = []string{"ok", "(unclosed"}
	if p, err := New(&cfg); p != nil || errcode.As(err).Code != errcode.Internal || !strings.Contains(err.Error(), "blockedArgumentPatterns[1]") {
		t.Fatalf("New = %v, %v; want an internal error naming blockedArgumentPatterns[1]", p, err)
	}
}

func TestShellHashesFound(t *testing.T) {
	f := newFixture(t)
	p := mustNew(t, f.baseConfig())
	if len(p.shells.bySize) == 0 {
		t.Fatal("no shell binary hashed on this host")
	}
	cfg := f.baseConfig()
	cfg.BlockShellInterpreters = false
	if p := mustNew(t, cfg); len(p.shells.bySize) != 0 {
		t.Fatal("shells hashed although blockShellInterpreters is false")
	}
}

// env -S expands ${VAR} from the request's environment: such a #! line is
// refused (what would run is not what was checked); a plain -S line is not.
func TestEnvSplitStringWithExpansionRefused(t *testing.T) {
	dir := t.TempDir()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	for _, tc := range []struct {
		line    string
		allowed bool
	}{
		{"#!/usr/bin/env -S python3 -u", true},
		{"#!/usr/bin/env -S ${X}", false},
		{"#!/usr/bin/env -S python3 \\x2e./x", false},
	} {
		script := filepath.Join(dir, fmt.Sprintf("s%d", len(tc.line)))
		if err := os.WriteFile(script, []byte(tc.line+"\nprint(1)\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := &config.Config{AllowedExecutables: []string{script, "python3", filepath.Base(py)},
			AllowedWorkingDirectories: []string{dir}, SearchPath: "/usr/local/bin:/usr/bin:/bin", BlockShellInterpreters: true}
		pol, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		d := pol.Evaluate(Request{Executable: script}, time.Now())
		if d.Allow != tc.allowed {
			t.Errorf("%q: allow = %v (%v), want %v", tc.line, d.Allow, d.Err, tc.allowed)
		}
		if d.Allow && d.Spec.Shebang != tc.line {
			t.Errorf("%q: Spec.Shebang = %q", tc.line, d.Spec.Shebang)
		}
	}
}
