package policy

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestArguments(t *testing.T) {
	f := newFixture(t)
	const secret = "hunter2-password-value"
	tests := []struct {
		name  string
		args  []string
		cfg   func(*config.Config)
		want  errcode.Code
		inMsg string
	}{
		{name: "plain", args: []string{"-v", "--name=x", "a b", "C:\\dir"}},
		{name: "too many", args: []string{"a", "b", "c"}, cfg: func(c *config.Config) { c.MaxArgumentCount = 2 }, want: errcode.ArgumentInvalid, inMsg: "maxArgumentCount is 2"},
		{name: "count at the limit", args: []string{"a", "b"}, cfg: func(c *config.Config) { c.MaxArgumentCount = 2 }},
		{name: "too long in bytes", args: []string{"ok", "ééé"}, cfg: func(c *config.Config) { c.MaxArgumentLength = 5 }, want: errcode.ArgumentInvalid, inMsg: "args[1] is 6 bytes"},
		{name: "NUL", args: []string{"a\x00b"}, want: errcode.ArgumentInvalid},
		{name: "NUL with injection off", args: []string{"a\x00b"}, cfg: func(c *config.Config) { c.BlockInjectionPatterns = false }, want: errcode.ArgumentInvalid},
		{name: "command substitution", args: []string{"x", "$(id)"}, want: errcode.ArgumentInvalid, inMsg: "args[1]"},
		{name: "backtick", args: []string{"`id`"}, want: errcode.ArgumentInvalid},
		{name: "pipe", args: []string{"a|b"}, want: errcode.ArgumentInvalid},
		{name: "semicolon", args: []string{"a;b"}, want: errcode.ArgumentInvalid},
		{name: "ampersand", args: []string{"a&b"}, want: errcode.ArgumentInvalid},
		{name: "newline", args: []string{"a\nb"}, want: errcode.ArgumentInvalid},
		{name: "dot dot slash", args: []string{"../etc/passwd"}, want: errcode.ArgumentInvalid},
		{name: "dot dot backslash", args: []string{`..\windows`}, want: errcode.ArgumentInvalid},
		{name: "injection allowed when off", args: []string{"a|b;c&d", "../x", "$(y)"}, cfg: func(c *config.Config) { c.BlockInjectionPatterns = false }},
		{name: "blocked pattern whole match", args: []string{"ok", secret}, cfg: func(c *config.Config) { c.BlockedArgumentPatterns = []string{"--unsafe-.*", ".*password.*"} }, want: errcode.ArgumentInvalid, inMsg: "args[1] matches blockedArgumentPatterns[1]"},
		{name: "blocked pattern is anchored", args: []string{"x--unsafe-y"}, cfg: func(c *config.Config) { c.BlockedArgumentPatterns = []string{"--unsafe-.*"} }},
		{name: "blocked pattern anchored both ends", args: []string{"--unsafe-1"}, cfg: func(c *config.Config) { c.BlockedArgumentPatterns = []string{"--unsafe-"} }},
		{name: "blocked pattern exact", args: []string{"--unsafe-"}, cfg: func(c *config.Config) { c.BlockedArgumentPatterns = []string{"--unsafe-"} }, want: errcode.ArgumentInvalid},
		{name: "blocked pattern alternation stays anchored", args: []string{"xa"}, cfg: func(c *config.Config) { c.BlockedArgumentPatterns = []string{"a|b"} }},
		{name: "newline cannot dodge a pattern", args: []string{"x\n" + secret}, cfg: func(c *config.Config) {
			c.BlockInjectionPatterns = false
			c.BlockedArgumentPatterns = []string{".*password.*"}
		}, want: errcode.ArgumentInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue", Args: tc.args}, noon)
			checkDecision(t, d, tc.want, LayerArguments)
			if tc.want == "" {
				return
			}
			if tc.inMsg != "" && !strings.Contains(d.Err.Message, tc.inMsg) {
				t.Fatalf("message %q does not say %q", d.Err.Message, tc.inMsg)
			}
			for _, a := range tc.args {
				if len(a) > 3 && (strings.Contains(d.Err.Message, a) || strings.Contains(d.Err.Remedy, a)) {
					t.Fatalf("refusal echoes the argument value: %v", d.Err)
				}
			}
			if strings.Contains(d.Err.Error(), "password") {
				t.Fatalf("refusal echoes the pattern or value: %v", d.Err)
			}
		})
	}
}

func TestEnvironment(t *testing.T) {
	f := newFixture(t)
	const secretValue = "s3cr3t-value"
	big := strings.Repeat("x", MaxEnvValueBytes)
	manyBig := map[string]string{}
	for i := range 17 {
		manyBig[fmt.Sprintf("V%02d", i)] = big
	}
	tests := []struct {
		name string
		env  map[string]string
		cfg  func(*config.Config)
		want errcode.Code
	}{
		{name: "plain", env: map[string]string{"NODE_ENV": "production", "_X1": ""}},
		{name: "PATH", env: map[string]string{"PATH": "/evil"}, want: errcode.EnvInvalid},
		{name: "path lower case", env: map[string]string{"path": "/evil"}, want: errcode.EnvInvalid},
		{name: "Ld_Preload", env: map[string]string{"Ld_Preload": "/tmp/x.so"}, want: errcode.EnvInvalid},
		{name: "LD_AUDIT prefix", env: map[string]string{"LD_AUDIT": "x"}, want: errcode.EnvInvalid},
		{name: "DYLD prefix", env: map[string]string{"DYLD_INSERT_LIBRARIES": "x"}, want: errcode.EnvInvalid},
		{name: "BASH_ENV", env: map[string]string{"BASH_ENV": "x"}, want: errcode.EnvInvalid},
		{name: "additional blocked, case-insensitive", env: map[string]string{"aws_secret_key": secretValue}, cfg: func(c *config.Config) { c.AdditionalBlockedEnvVars = []string{"AWS_SECRET_KEY"} }, want: errcode.EnvInvalid},
		{name: "bad name digit", env: map[string]string{"1X": "v"}, want: errcode.EnvInvalid},
		{name: "bad name dash", env: map[string]string{"A-B": "v"}, want: errcode.EnvInvalid},
		{name: "bad name equals", env: map[string]string{"A=B": "v"}, want: errcode.EnvInvalid},
		{name: "empty name", env: map[string]string{"": "v"}, want: errcode.EnvInvalid},
		{name: "allowlist", env: map[string]string{"NODE_ENV": "x", "LOG_LEVEL": "y"}, cfg: func(c *config.Config) { c.AllowedEnvVars = []string{"NODE_ENV", "LOG_LEVEL"} }},
		{name: "not in allowlist", env: map[string]string{"NODE_ENV": "x", "OTHER": secretValue}, cfg: func(c *config.Config) { c.AllowedEnvVars = []string{"NODE_ENV"} }, want: errcode.EnvInvalid},
		{name: "too many", env: map[string]string{"A": "1", "B": "2", "C": "3"}, cfg: func(c *config.Config) { c.MaxEnvVarCount = 2 }, want: errcode.EnvInvalid},
		{name: "count at the limit", env: map[string]string{"A": "1", "B": "2"}, cfg: func(c *config.Config) { c.MaxEnvVarCount = 2 }},
		{name: "NUL in value", env: map[string]string{"A": "s3cr3t\x00"}, want: errcode.EnvInvalid},
		{name: "substitution in value", env: map[string]string{"A": "s3cr3t$(id)"}, want: errcode.EnvInvalid},
		{name: "backtick in value", env: map[string]string{"A": "s3cr3t`id`"}, want: errcode.EnvInvalid},
		{name: "newline in value", env: map[string]string{"A": "s3cr3t\nx"}, want: errcode.EnvInvalid},
		{name: "value at 4096 bytes", env: map[string]string{"A": big}},
		{name: "value over 4096 bytes", env: map[string]string{"A": big + "y"}, want: errcode.EnvInvalid},
		{name: "total over 65536 bytes", env: manyBig, want: errcode.EnvInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue", Env: tc.env}, noon)
			checkDecision(t, d, tc.want, LayerEnvironment)
			if tc.want == "" {
				for n, v := range tc.env {
					if !strings.Contains(strings.Join(d.Spec.Env, "\x00")+"\x00", "\x00"+n+"="+v+"\x00") && d.Spec.Env[0] != n+"="+v {
						t.Errorf("Env %q lacks %s", d.Spec.Env, n)
					}
				}
				return
			}
			if strings.Contains(d.Err.Error(), "s3cr3t") {
				t.Fatalf("refusal echoes a value: %v", d.Err)
			}
		})
	}
}

func TestServerEnvironmentDoesNotLeak(t *testing.T) {
	f := newFixture(t)
	t.Setenv("MCP_POLICY_TEST_SECRET", "leak")
	d := mustNew(t, f.baseConfig()).Evaluate(Request{Executable: "mytrue"}, noon)
	checkDecision(t, d, "", "")
	for _, kv := range d.Spec.Env {
		if strings.HasPrefix(kv, "MCP_POLICY_TEST_SECRET=") {
			t.Fatalf("server variable leaked: %q", d.Spec.Env)
		}
	}
	cfg := f.baseConfig()
	cfg.InheritEnvVars = []string{"MCP_POLICY_TEST_SECRET"}
	d = mustNew(t, cfg).Evaluate(Request{Executable: "mytrue"}, noon)
	checkDecision(t, d, "", "")
	if !strings.Contains(strings.Join(d.Spec.Env, " "), "MCP_POLICY_TEST_SECRET=leak") {
		t.Fatalf("inheritEnvVars not copied: %q", d.Spec.Env)
	}
}

func TestWorkingDirectory(t *testing.T) {
	f := newFixture(t)
	app := filepath.Dir(f.work)
	symlink(t, "/etc", filepath.Join(f.work, "etclink"))
	symlink(t, filepath.Join(app, "workshop"), filepath.Join(f.work, "shoplink"))
	symlink(t, f.work, filepath.Join(f.root, "worklink"))
	writeFile(t, filepath.Join(f.work, "file"), "x", 0o644)
	other, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(other, "inner"))
	symlink(t, filepath.Join(other, "inner"), filepath.Join(f.work, "elsewhere"))
	tests := []struct {
		name    string
		cwd     string
		cfg     func(*config.Config)
		want    errcode.Code
		wantDir string
	}{
		{name: "default is the first allowed", cwd: "", wantDir: f.work},
		{name: "allowed dir", cwd: f.work, wantDir: f.work},
		{name: "subdirectory", cwd: filepath.Join(f.work, "sub"), wantDir: filepath.Join(f.work, "sub")},
		{name: "trailing slash and dot", cwd: f.work + "/./sub/", wantDir: filepath.Join(f.work, "sub")},
		{name: "prefix trick", cwd: filepath.Join(app, "workshop"), want: errcode.CwdNotAllowed},
		{name: "dot dot escape", cwd: f.work + "/../workshop", want: errcode.CwdNotAllowed},
		{name: "dot dot escape to parent", cwd: f.work + "/sub/../..", want: errcode.CwdNotAllowed},
		{name: "symlink escape to /etc", cwd: filepath.Join(f.work, "etclink"), want: errcode.CwdNotAllowed},
		{name: "symlink escape to sibling", cwd: filepath.Join(f.work, "shoplink"), want: errcode.CwdNotAllowed},
		{name: "symlink into allowed", cwd: filepath.Join(f.root, "worklink", "sub"), wantDir: filepath.Join(f.work, "sub")},
		{name: "allowed entry through symlink", cwd: filepath.Join(f.work, "sub"), cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{filepath.Join(f.root, "worklink")} }, wantDir: filepath.Join(f.work, "sub")},
		{name: "blocked wins", cwd: filepath.Join(f.work, "secret"), cfg: func(c *config.Config) { c.BlockedWorkingDirectories = []string{filepath.Join(f.work, "secret")} }, want: errcode.CwdNotAllowed},
		{name: "blocked does not block a prefix sibling", cwd: filepath.Join(f.work, "sub"), cfg: func(c *config.Config) { c.BlockedWorkingDirectories = []string{filepath.Join(f.work, "su")} }, wantDir: filepath.Join(f.work, "sub")},
		{name: "blocked through symlink", cwd: filepath.Join(f.root, "worklink", "secret"), cfg: func(c *config.Config) { c.BlockedWorkingDirectories = []string{filepath.Join(f.work, "secret")} }, want: errcode.CwdNotAllowed},
		// work/elsewhere/.. is other, not work: ".." follows the symlink.
		{name: "allowed entry with dot dot after a symlink", cwd: filepath.Join(f.work, "sub"), cfg: func(c *config.Config) {
			c.AllowedWorkingDirectories = []string{filepath.Join(f.work, "elsewhere") + "/.."}
		}, want: errcode.CwdNotAllowed},
		{name: "allowed entry with dot dot after a symlink, resolved", cwd: other, cfg: func(c *config.Config) {
			c.AllowedWorkingDirectories = []string{f.work, filepath.Join(f.work, "elsewhere") + "/.."}
		}, wantDir: other},
		{name: "blocked entry is a symlink", cwd: filepath.Join(f.work, "sub"), cfg: func(c *config.Config) { c.BlockedWorkingDirectories = []string{filepath.Join(f.root, "worklink")} }, want: errcode.CwdNotAllowed},
		{name: "blocked entry with dot dot after a symlink", cwd: "/etc", cfg: func(c *config.Config) {
			c.AllowedWorkingDirectories = []string{"/"}
			c.BlockedWorkingDirectories = []string{filepath.Join(f.work, "etclink") + "/.."}
		}, want: errcode.CwdNotAllowed},
		{name: "root allowed", cwd: "/etc", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{"/"} }, wantDir: "/etc"},
		// A relative cwd is relative to the first allowed directory (SPEC 7.3).
		{name: "relative", cwd: "sub", wantDir: filepath.Join(f.work, "sub")},
		{name: "relative dot", cwd: ".", wantDir: f.work},
		{name: "relative dot dot escape", cwd: "../workshop", want: errcode.CwdNotAllowed},
		{name: "relative symlink escape", cwd: "etclink", want: errcode.CwdNotAllowed},
		{name: "relative missing", cwd: "nope", want: errcode.CwdNotFound},
		{name: "relative blocked", cwd: "secret", cfg: func(c *config.Config) { c.BlockedWorkingDirectories = []string{filepath.Join(f.work, "secret")} }, want: errcode.CwdNotAllowed},
		{name: "relative with no allowed dirs", cwd: "sub", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = nil }, want: errcode.CwdNotAllowed},
		{name: "missing", cwd: filepath.Join(f.work, "nope"), want: errcode.CwdNotFound},
		{name: "a file", cwd: filepath.Join(f.work, "file"), want: errcode.CwdNotFound},
		{name: "no allowed dirs and no cwd", cwd: "", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = nil }, want: errcode.CwdNotAllowed},
		{name: "no allowed dirs fails closed", cwd: f.work, cfg: func(c *config.Config) { c.AllowedWorkingDirectories = nil }, want: errcode.CwdNotAllowed},
		{name: "first allowed missing", cwd: "", cfg: func(c *config.Config) { c.AllowedWorkingDirectories = []string{filepath.Join(f.root, "gone"), f.work} }, want: errcode.CwdNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue", Cwd: tc.cwd}, noon)
			checkDecision(t, d, tc.want, LayerWorkingDirectory)
			if tc.want == "" && d.Spec.Dir != tc.wantDir {
				t.Fatalf("Dir = %s, want %s", d.Spec.Dir, tc.wantDir)
			}
		})
	}
}

func TestResourceLimits(t *testing.T) {
	f := newFixture(t)
	def := config.ResourceLimits{MaxCpuPercent: 80, MaxMemoryMB: 1024, MaxFileDescriptors: 1024, MaxCpuTime: 300, MaxProcesses: 10}
	tests := []struct {
		name     string
		req      config.ResourceLimits
		timeout  time.Duration
		max      config.ResourceLimits
		lifetime int64
		want     errcode.Code
		inMsg    string
		wantEff  config.ResourceLimits
		wantLife time.Duration
	}{
		{name: "defaults fill", wantEff: def, lifetime: 3600, wantLife: time.Hour},
		{name: "request overrides", req: config.ResourceLimits{MaxMemoryMB: 64, MaxCpuPercent: 12.5}, lifetime: 60, wantLife: time.Minute,
			wantEff: config.ResourceLimits{MaxCpuPercent: 12.5, MaxMemoryMB: 64, MaxFileDescriptors: 1024, MaxCpuTime: 300, MaxProcesses: 10}},
		{name: "at the maximum", req: config.ResourceLimits{MaxMemoryMB: 2048}, max: config.ResourceLimits{MaxMemoryMB: 2048}, lifetime: 1, wantLife: time.Second,
			wantEff: config.ResourceLimits{MaxCpuPercent: 80, MaxMemoryMB: 2048, MaxFileDescriptors: 1024, MaxCpuTime: 300, MaxProcesses: 10}},
		{name: "above the maximum", req: config.ResourceLimits{MaxMemoryMB: 4096}, max: config.ResourceLimits{MaxMemoryMB: 2048}, want: errcode.ResourceLimitExceedsMaximum, inMsg: "maximumResourceLimits.maxMemoryMB 2048"},
		{name: "cpu percent above", req: config.ResourceLimits{MaxCpuPercent: 50.5}, max: config.ResourceLimits{MaxCpuPercent: 50}, want: errcode.ResourceLimitExceedsMaximum, inMsg: "maxCpuPercent 50"},
		{name: "negative", req: config.ResourceLimits{MaxProcesses: -1}, want: errcode.InvalidInput, inMsg: "maxProcesses"},
		{name: "timeout shortens", timeout: 1500 * time.Millisecond, lifetime: 3600, wantEff: def, wantLife: 1500 * time.Millisecond},
		{name: "timeout never lengthens", timeout: 2 * time.Hour, lifetime: 3600, wantEff: def, wantLife: time.Hour},
		{name: "timeout without lifetime", timeout: time.Minute, wantEff: def, wantLife: time.Minute},
		{name: "negative timeout", timeout: -time.Second, want: errcode.InvalidInput},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			cfg.DefaultResourceLimits = def
			cfg.MaximumResourceLimits = tc.max
			cfg.MaxProcessLifetime = tc.lifetime
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue", Limits: tc.req, Timeout: tc.timeout}, noon)
			checkDecision(t, d, tc.want, LayerResourceLimits)
			if tc.want != "" {
				if !strings.Contains(d.Err.Message, tc.inMsg) {
					t.Fatalf("message %q does not say %q", d.Err.Message, tc.inMsg)
				}
				return
			}
			if d.Spec.Limits != tc.wantEff || d.Spec.Lifetime != tc.wantLife {
				t.Fatalf("limits %+v lifetime %v, want %+v %v", d.Spec.Limits, d.Spec.Lifetime, tc.wantEff, tc.wantLife)
			}
		})
	}
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("zone %s unavailable: %v", name, err)
	}
	return l
}

func TestTimeWindows(t *testing.T) {
	f := newFixture(t)
	ny := mustZone(t, "America/New_York")
	mustZone(t, "Asia/Tokyo")
	utc := func(day, h, m int) time.Time { return time.Date(2024, 1, day, h, m, 0, 0, time.UTC) } // 2024-01-08 is a Monday
	tests := []struct {
		name    string
		allowed []string
		blocked []string
		zone    string
		at      time.Time
		want    bool
	}{
		{"no windows", nil, nil, "", utc(8, 3, 0), true},
		{"business hours in", []string{"Mon-Fri 09:00-17:00"}, nil, "UTC", utc(8, 9, 0), true},
		{"business hours end excluded", []string{"Mon-Fri 09:00-17:00"}, nil, "UTC", utc(8, 17, 0), false},
		{"business hours last second", []string{"Mon-Fri 09:00-17:00"}, nil, "UTC", utc(8, 16, 59).Add(59 * time.Second), true},
		{"weekend out", []string{"Mon-Fri 09:00-17:00"}, nil, "UTC", utc(13, 10, 0), false},
		{"wrap covers next day early", []string{"Mon 22:00-02:00"}, nil, "UTC", utc(9, 1, 0), true},
		{"wrap starts on its day", []string{"Mon 22:00-02:00"}, nil, "UTC", utc(8, 22, 0), true},
		{"wrap not next evening", []string{"Mon 22:00-02:00"}, nil, "UTC", utc(9, 22, 30), false},
		{"wrap end excluded", []string{"Mon 22:00-02:00"}, nil, "UTC", utc(9, 2, 0), false},
		{"wrap not the morning of its own day", []string{"Mon 22:00-02:00"}, nil, "UTC", utc(8, 1, 0), false},
		{"day range wraps", []string{"Fri-Mon *"}, nil, "UTC", utc(14, 12, 0), true},
		{"day range wraps excludes midweek", []string{"Fri-Mon *"}, nil, "UTC", utc(10, 12, 0), false},
		{"comma list", []string{"Mon,Wed,Fri *"}, nil, "UTC", utc(10, 12, 0), true},
		{"comma list excludes", []string{"Mon,Wed,Fri *"}, nil, "UTC", utc(9, 12, 0), false},
		{"comma list with range", []string{"Tue,Thu-Sat 08:00-09:00"}, nil, "UTC", utc(12, 8, 30), true},
		{"window zone", []string{"Mon-Fri 09:00-17:00 America/New_York"}, nil, "UTC", utc(8, 14, 30), true},
		{"window zone before opening", []string{"Mon-Fri 09:00-17:00 America/New_York"}, nil, "UTC", utc(8, 13, 30), false},
		{"timeZone key", []string{"Mon-Fri 09:00-17:00"}, nil, "America/New_York", utc(8, 14, 30), true},
		{"days read in the window zone", []string{"Sat *"}, nil, "Asia/Tokyo", utc(12, 20, 0), true},
		{"days read in the window zone, UTC", []string{"Sat *"}, nil, "UTC", utc(12, 20, 0), false},
		{"cicd preset", []string{"* 00:00-23:59"}, nil, "UTC", utc(8, 23, 58), true},
		{"24:00 end", []string{"* 12:00-24:00"}, nil, "UTC", utc(8, 23, 59), true},
		{"blocked", nil, []string{"Sat-Sun *", "* 00:00-06:00"}, "UTC", utc(9, 5, 59), false},
		{"blocked weekend", nil, []string{"Sat-Sun *", "* 00:00-06:00"}, "UTC", utc(13, 12, 0), false},
		{"not blocked", nil, []string{"Sat-Sun *", "* 00:00-06:00"}, "UTC", utc(9, 6, 0), true},
		{"blocked wins", []string{"* *"}, []string{"Mon 12:00-13:00"}, "UTC", utc(8, 12, 30), false},
		{"full names and case", []string{"monday-FRIDAY *"}, nil, "UTC", utc(8, 0, 0), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			cfg.AllowedTimeWindows = tc.allowed
			cfg.BlockedTimeWindows = tc.blocked
			cfg.TimeZone = tc.zone
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue"}, tc.at)
			if tc.want {
				checkDecision(t, d, "", "")
			} else {
				checkDecision(t, d, errcode.OutsideTimeWindow, LayerTimeWindow)
			}
		})
	}
	// The same instant, seen from another zone, is still the same instant.
	cfg := f.baseConfig()
	cfg.AllowedTimeWindows = []string{"Mon 09:00-10:00 America/New_York"}
	checkDecision(t, mustNew(t, cfg).Evaluate(Request{Executable: "mytrue"}, time.Date(2024, 1, 8, 9, 30, 0, 0, ny)), "", "")
}

func TestStdin(t *testing.T) {
	on := &config.Config{AllowStdinInput: true, BlockBinaryStdin: true}
	tests := []struct {
		name string
		cfg  *config.Config
		data string
		enc  string
		want errcode.Code
	}{
		{"text", on, "hello\tworld\r\n", "utf8", ""},
		{"unicode", on, "héllo ✓ 日本", "utf8", ""},
		{"empty", on, "", "utf8", ""},
		{"stdin disabled", &config.Config{}, "hello", "utf8", errcode.StdinNotAllowed},
		{"base64 refused", on, "aGVsbG8=", "base64", errcode.BinaryStdinBlocked},
		{"NUL", on, "a\x00b", "utf8", errcode.BinaryStdinBlocked},
		{"invalid UTF-8", on, "a\xffb", "utf8", errcode.BinaryStdinBlocked},
		{"escape", on, "a\x1b[31m", "utf8", errcode.BinaryStdinBlocked},
		{"DEL", on, "a\x7f", "utf8", errcode.BinaryStdinBlocked},
		{"C1", on, "a\u0085b", "utf8", errcode.BinaryStdinBlocked},
		{"binary allowed when off", &config.Config{AllowStdinInput: true}, "\x00\xff\x1b", "base64", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckStdin(tc.cfg, []byte(tc.data), tc.enc)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || err.Code != tc.want || err.Layer != string(LayerIO) || !err.Violation || err.Remedy == "" {
				t.Fatalf("want %s, got %v", tc.want, err)
			}
		})
	}
}

func TestDecodeStdin(t *testing.T) {
	tests := []struct {
		data, enc, want string
		code            errcode.Code
	}{
		{"hi\n", "utf8", "hi\n", ""},
		{"hi", "", "hi", ""},
		{"aGk=", "base64", "hi", ""},
		{"AAH/", "base64", "\x00\x01\xff", ""},
		{"not base64!", "base64", "", errcode.InvalidInput},
		{"hi", "latin1", "", errcode.InvalidInput},
	}
	for _, tc := range tests {
		got, err := DecodeStdin(tc.data, tc.enc)
		if tc.code != "" {
			if err == nil || err.Code != tc.code || err.Violation {
				t.Errorf("DecodeStdin(%q, %q) = %q, %v; want %s", tc.data, tc.enc, got, err, tc.code)
			}
			continue
		}
		if err != nil || string(got) != tc.want {
			t.Errorf("DecodeStdin(%q, %q) = %q, %v", tc.data, tc.enc, got, err)
		}
	}
}

func TestEvaluateWritesNothing(t *testing.T) {
	f := newFixture(t)
	before := listTree(t, f.root)
	p := mustNew(t, f.baseConfig())
	for _, exe := range []string{"mytrue", "node", "shscript", "suidtrue", "nosuch"} {
		p.Evaluate(Request{Executable: exe, Args: []string{"x"}}, noon)
	}
	if after := listTree(t, f.root); after != before {
		t.Fatalf("Evaluate changed the filesystem:\n%s\n%s", before, after)
	}
}

func listTree(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %v\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
