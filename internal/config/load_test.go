package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// doc returns a minimal valid config document that allows exe.
func doc(exe string) string {
	return `{"allowedExecutables":["` + exe + `"],"allowedWorkingDirectories":["/srv"]}`
}

func TestLoadPrecedence(t *testing.T) {
	type setup struct {
		flag, envPath, envJSON bool
		local, localDir        bool
	}
	for _, tc := range []struct {
		name       string
		s          setup
		wantExe    string // the allowlist tells which source won
		wantSource string // fragment
	}{
		{"--config wins over everything", setup{true, true, true, true, true}, "from-flag", "(--config)"},
		{"env path next", setup{false, true, true, true, true}, "from-env-path", "(MCP_PROCESS_CONFIG_PATH)"},
		{"env JSON next", setup{false, false, true, true, true}, "from-env-json", "environment MCP_PROCESS_CONFIG"},
		{"./mcp-process-config.json next", setup{false, false, false, true, true}, "from-local", "mcp-process-config.json"},
		{"./config/mcp-process.json next", setup{false, false, false, false, true}, "from-local-dir", "config/mcp-process.json"},
		{"built-in default last", setup{}, "node", "built-in default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cwd := t.TempDir()
			other := t.TempDir()
			env := []string{"HOME", "/home/test"}
			var opts LoadOptions
			if tc.s.flag {
				p := filepath.Join(other, "flag.json")
				must(t, writeFile(p, doc("from-flag")))
				opts.ConfigPath = p
			}
			if tc.s.envPath {
				p := filepath.Join(other, "env.json")
				must(t, writeFile(p, doc("from-env-path")))
				env = append(env, EnvConfigPath, p)
			}
			if tc.s.envJSON {
				env = append(env, EnvConfigJSON, doc("from-env-json"))
			}
			if tc.s.local {
				must(t, writeFile(filepath.Join(cwd, LocalFile), doc("from-local")))
			}
			if tc.s.localDir {
				must(t, os.Mkdir(filepath.Join(cwd, "config"), 0o755))
				must(t, writeFile(filepath.Join(cwd, LocalDirFile), doc("from-local-dir")))
			}
			opts.Getenv = testEnv(env...)
			opts.Cwd = cwd
			l, err := Load(opts)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := l.Config.AllowedExecutables[0]; got != tc.wantExe {
				t.Errorf("allowedExecutables[0] = %q, want %q (wrong source won)", got, tc.wantExe)
			}
			if !strings.Contains(l.Source, tc.wantSource) {
				t.Errorf("Source = %q, want it to contain %q", l.Source, tc.wantSource)
			}
		})
	}
}

func TestLoadBrokenSourceDoesNotFallThrough(t *testing.T) {
	for _, tc := range []struct {
		name string
		prep func(t *testing.T, cwd string, opts *LoadOptions, env *[]string)
		key  string
		code errcode.Code
		src  string
	}{
		{"--config file missing", func(t *testing.T, cwd string, o *LoadOptions, _ *[]string) {
			o.ConfigPath = filepath.Join(cwd, "nope.json")
		}, "", errcode.InvalidInput, "(--config)"},
		{"--config file is a directory", func(t *testing.T, cwd string, o *LoadOptions, _ *[]string) {
			o.ConfigPath = cwd
		}, "", errcode.InvalidInput, "(--config)"},
		{"--config file with bad JSON", func(t *testing.T, cwd string, o *LoadOptions, _ *[]string) {
			o.ConfigPath = filepath.Join(cwd, "bad.json")
			must(t, writeFile(o.ConfigPath, `{"allowedExecutables": [`))
		}, "allowedExecutables", errcode.InvalidInput, "bad.json"},
		{"--config file invalid", func(t *testing.T, cwd string, o *LoadOptions, _ *[]string) {
			o.ConfigPath = filepath.Join(cwd, "inv.json")
			must(t, writeFile(o.ConfigPath, `{"allowedExecutables": ["sudo"]}`))
		}, "allowedExecutables[0]", errcode.InvalidInput, "inv.json"},
		{"env path missing", func(t *testing.T, cwd string, _ *LoadOptions, env *[]string) {
			*env = append(*env, EnvConfigPath, filepath.Join(cwd, "missing.json"))
		}, "", errcode.InvalidInput, EnvConfigPath},
		{"env JSON broken", func(t *testing.T, cwd string, _ *LoadOptions, env *[]string) {
			*env = append(*env, EnvConfigJSON, `{"allowedExecutables": ["node"], "bogus": 1}`)
		}, "bogus", errcode.InvalidInput, EnvConfigJSON},
		{"env JSON whitespace only", func(t *testing.T, cwd string, _ *LoadOptions, env *[]string) {
			*env = append(*env, EnvConfigJSON, "   ")
		}, "", errcode.InvalidInput, EnvConfigJSON},
		{"local file broken", func(t *testing.T, cwd string, _ *LoadOptions, _ *[]string) {
			must(t, writeFile(filepath.Join(cwd, LocalFile), `{"enableChroot": "yes"}`))
		}, "enableChroot", errcode.InvalidInput, LocalFile},
		{"local file asks for an unbuilt layer", func(t *testing.T, cwd string, _ *LoadOptions, _ *[]string) {
			withLayerUnbuilt(t, "landlock")
			must(t, writeFile(filepath.Join(cwd, LocalFile), `{"landlock": true}`))
		}, "landlock", errcode.LayerUnavailable, LocalFile},
		{"local file is a directory", func(t *testing.T, cwd string, _ *LoadOptions, _ *[]string) {
			must(t, os.Mkdir(filepath.Join(cwd, LocalFile), 0o755))
		}, "", errcode.InvalidInput, LocalFile},
		{"config/ file broken", func(t *testing.T, cwd string, _ *LoadOptions, _ *[]string) {
			must(t, os.Mkdir(filepath.Join(cwd, "config"), 0o755))
			must(t, writeFile(filepath.Join(cwd, LocalDirFile), `{}}`))
		}, "", errcode.InvalidInput, LocalDirFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cwd := t.TempDir()
			// Every lower-priority source is valid: a fall-through would succeed.
			opts := LoadOptions{Cwd: cwd}
			env := []string{"HOME", "/home/test"}
			tc.prep(t, cwd, &opts, &env)
			if !slices.Contains(env, EnvConfigJSON) && !slices.Contains(env, EnvConfigPath) {
				if _, err := os.Stat(filepath.Join(cwd, "config")); err != nil {
					must(t, os.Mkdir(filepath.Join(cwd, "config"), 0o755))
					must(t, writeFile(filepath.Join(cwd, LocalDirFile), doc("fallback")))
				}
			}
			opts.Getenv = testEnv(env...)
			l, err := Load(opts)
			if err == nil {
				t.Fatalf("Load succeeded from %q; a broken source must be an error", l.Source)
			}
			ce := wantConfigError(t, err, tc.code, tc.key)
			if !strings.Contains(ce.Source, tc.src) || !strings.Contains(err.Error(), tc.src) {
				t.Errorf("error %q (source %q) does not name the source %q", err, ce.Source, tc.src)
			}
		})
	}
}

func TestLoadReadFileInjectedAndUnreadable(t *testing.T) {
	perm := errors.New("permission denied")
	_, err := Load(LoadOptions{
		Cwd:    "/work",
		Getenv: testEnv("HOME", "/home/test"),
		ReadFile: func(p string) ([]byte, error) {
			if p == "/work/"+LocalFile {
				return nil, &fs.PathError{Op: "open", Path: p, Err: perm}
			}
			return nil, fs.ErrNotExist
		},
	})
	ce := wantConfigError(t, err, errcode.InvalidInput, "")
	if !strings.Contains(ce.Message, "permission denied") {
		t.Errorf("message %q does not say why the file could not be read", ce.Message)
	}
}

func TestLoadRelativeConfigPathIsFromCwd(t *testing.T) {
	cwd := t.TempDir()
	must(t, writeFile(filepath.Join(cwd, "rel.json"), doc("rel")))
	l, err := Load(LoadOptions{ConfigPath: "rel.json", Cwd: cwd, Getenv: testEnv("HOME", "/h")})
	if err != nil {
		t.Fatal(err)
	}
	if l.Path != filepath.Join(cwd, "rel.json") || l.Config.AllowedExecutables[0] != "rel" {
		t.Errorf("Path = %q, allowlist %v", l.Path, l.Config.AllowedExecutables)
	}
}

func TestLoadBuiltinDefault(t *testing.T) {
	cwd := t.TempDir()
	l, err := Load(LoadOptions{Cwd: cwd, Getenv: testEnv("XDG_STATE_HOME", "/state", "HOME", "/home/x")})
	if err != nil {
		t.Fatal(err)
	}
	c := l.Config
	if l.Source != "built-in default" || l.Path != "" || len(l.Explicit) != 0 {
		t.Errorf("Source %q Path %q Explicit %v", l.Source, l.Path, l.Explicit)
	}
	if !slices.Equal(c.AllowedWorkingDirectories, []string{cwd}) {
		t.Errorf("allowedWorkingDirectories = %v, want [%s]", c.AllowedWorkingDirectories, cwd)
	}
	if !slices.Equal(c.AllowedExecutables, []string{"node", "npm", "git", "python3", "pip3"}) {
		t.Errorf("allowedExecutables = %v, want the development preset's", c.AllowedExecutables)
	}
	if c.AuditLogPath != "/state/mcp-process/audit.log" || c.SecurityViolationLogPath != "/state/mcp-process/security-violations.log" {
		t.Errorf("audit paths %q %q", c.AuditLogPath, c.SecurityViolationLogPath)
	}
	// Writes confined by Landlock where the host has it (SPEC 7.1a); no
	// other layer key.
	_, llErr := host.landlock()
	if c.Landlock != (llErr == nil) {
		t.Errorf("the built-in default's landlock = %v, host Landlock error %v", c.Landlock, llErr)
	}
	for _, lk := range layerKeys {
		if lk.enabling(c) && lk.key != "landlock" {
			t.Errorf("the built-in default enables %s", lk.key)
		}
	}
}

func TestLoadAuditPathDefaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       []string
		doc       string
		audit     string
		violation string
		errKey    string
	}{
		{"XDG_STATE_HOME", []string{"XDG_STATE_HOME", "/xdg", "HOME", "/h"}, `{}`, "/xdg/mcp-process/audit.log", "/xdg/mcp-process/security-violations.log", ""},
		{"HOME fallback", []string{"HOME", "/h"}, `{}`, "/h/.local/state/mcp-process/audit.log", "/h/.local/state/mcp-process/security-violations.log", ""},
		{"relative XDG ignored", []string{"XDG_STATE_HOME", "rel", "HOME", "/h"}, `{}`, "/h/.local/state/mcp-process/audit.log", "/h/.local/state/mcp-process/security-violations.log", ""},
		{"violation log follows a configured audit log", []string{"HOME", "/h"}, `{"auditLogPath":"/var/log/mcp/audit.log"}`, "/var/log/mcp/audit.log", "/var/log/mcp/security-violations.log", ""},
		{"explicit violation log kept", []string{"HOME", "/h"}, `{"securityViolationLogPath":"/v/x.log"}`, "/h/.local/state/mcp-process/audit.log", "/v/x.log", ""},
		{"no home at all", nil, `{}`, "", "", "auditLogPath"},
		{"no home, audit off", nil, `{"enableAuditLog":false}`, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{EnvConfigJSON, tc.doc}, tc.env...)
			l, err := Load(LoadOptions{Cwd: "/srv/start", Getenv: testEnv(env...), ReadFile: noFiles})
			if tc.errKey != "" {
				wantConfigError(t, err, errcode.InvalidInput, tc.errKey)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if l.Config.AuditLogPath != tc.audit || l.Config.SecurityViolationLogPath != tc.violation {
				t.Errorf("audit %q violation %q, want %q %q", l.Config.AuditLogPath, l.Config.SecurityViolationLogPath, tc.audit, tc.violation)
			}
		})
	}
}

func noFiles(string) ([]byte, error) { return nil, fs.ErrNotExist }

func TestLoadProfiles(t *testing.T) {
	env := testEnv("HOME", "/h")
	// maximum and cicd ask for chroot (and more): refused while not built.
	for _, p := range []string{"maximum", "cicd"} {
		t.Run(p+" alone", func(t *testing.T) {
			withLayerUnbuilt(t, "chroot")
			_, err := Load(LoadOptions{Profile: p, Cwd: "/srv/start", Getenv: env, ReadFile: noFiles})
			ce := wantConfigError(t, err, errcode.LayerUnavailable, "enableChroot")
			if ce.Layer != "chroot" || !strings.Contains(ce.Source, "profile "+p) {
				t.Errorf("layer %q source %q", ce.Layer, ce.Source)
			}
		})
	}
	t.Run("development alone", func(t *testing.T) {
		l, err := Load(LoadOptions{Profile: "development", Cwd: "/srv/start", Getenv: env, ReadFile: noFiles})
		if err != nil {
			t.Fatal(err)
		}
		if l.Source != "profile development" || l.Profile != "development" {
			t.Errorf("Source %q Profile %q", l.Source, l.Profile)
		}
		// The profile alone works in the start directory (SPEC 7.3).
		if !slices.Equal(l.Config.AllowedWorkingDirectories, []string{"/srv/start"}) {
			t.Errorf("allowedWorkingDirectories = %v", l.Config.AllowedWorkingDirectories)
		}
	})
	t.Run("unknown profile", func(t *testing.T) {
		_, err := Load(LoadOptions{Profile: "paranoid", Cwd: "/srv/start", Getenv: env, ReadFile: noFiles})
		ce := wantConfigError(t, err, errcode.InvalidInput, "profile")
		if !strings.Contains(ce.Remedy, "maximum") {
			t.Errorf("remedy %q does not list the profiles", ce.Remedy)
		}
	})
	t.Run("file over a profile", func(t *testing.T) {
		dir := t.TempDir()
		f := filepath.Join(dir, "over.json")
		must(t, writeFile(f, `{
			"allowedExecutables": ["make"],
			"defaultResourceLimits": {"maxMemoryMB": 300},
			"maxLaunchesPerHour": 50
		}`))
		l, err := Load(LoadOptions{Profile: "development", ConfigPath: f, Cwd: dir, Getenv: env})
		if err != nil {
			t.Fatal(err)
		}
		c := l.Config
		if !slices.Equal(c.AllowedExecutables, []string{"make"}) {
			t.Errorf("allowedExecutables = %v (the file's array must replace the profile's)", c.AllowedExecutables)
		}
		// Merged per key: the file's memory, the profile's cpu time and
		// processes, the defaults' fds.
		want := ResourceLimits{MaxCpuPercent: 80, MaxMemoryMB: 300, MaxFileDescriptors: 1024, MaxCpuTime: 600, MaxProcesses: 128}
		if c.DefaultResourceLimits != want {
			t.Errorf("defaultResourceLimits = %+v, want %+v", c.DefaultResourceLimits, want)
		}
		if c.MaxLaunchesPerMinute != 20 || c.MaxLaunchesPerHour != 50 {
			t.Errorf("rate limits %d/%d, want the profile's 20/min and the file's 50/h", c.MaxLaunchesPerMinute, c.MaxLaunchesPerHour)
		}
		if !slices.Equal(c.AllowedWorkingDirectories, []string{dir}) {
			t.Errorf("allowedWorkingDirectories = %v, want the start directory", c.AllowedWorkingDirectories)
		}
		if !strings.HasPrefix(l.Source, "profile development + file ") || !l.Explicit["maxLaunchesPerHour"] || l.Explicit["maxLaunchesPerMinute"] {
			t.Errorf("Source %q Explicit %v", l.Source, l.Explicit)
		}
	})
	t.Run("file over maximum switches its layers off", func(t *testing.T) {
		_, err := Load(LoadOptions{Profile: "maximum", Cwd: "/srv/start", Getenv: testEnv("HOME", "/h", EnvConfigJSON, `{
			"enableChroot": false, "enableNamespaces": false, "namespaces": {"pid":false,"network":false,"mount":false,"uts":false,"ipc":false,"user":false},
			"enableSeccomp": false, "blockNetworkAccess": false, "requireConfirmation": false, "readOnlyFilesystem": false}`), ReadFile: noFiles})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
	})
}

func TestLoadLowersBuiltinDefaultsButNotExplicitOnes(t *testing.T) {
	// A built-in default (maxMemoryMB 1024) above a configured maximum is lowered.
	l, err := Load(LoadOptions{Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON,
		`{"maximumResourceLimits":{"maxMemoryMB":256,"maxCpuPercent":50}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.DefaultResourceLimits.MaxMemoryMB != 256 || l.Config.DefaultResourceLimits.MaxCpuPercent != 50 {
		t.Errorf("defaults = %+v, want memory lowered to 256 and cpu to 50", l.Config.DefaultResourceLimits)
	}
	if l.Config.DefaultResourceLimits.MaxFileDescriptors != 1024 {
		t.Errorf("fds = %d, want the untouched default 1024", l.Config.DefaultResourceLimits.MaxFileDescriptors)
	}
	// A profile's default counts as built-in.
	l, err = Load(LoadOptions{Profile: "development", Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON,
		`{"maximumResourceLimits":{"maxMemoryMB":1000}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.DefaultResourceLimits.MaxMemoryMB != 1000 {
		t.Errorf("profile default memory = %d, want lowered to 1000", l.Config.DefaultResourceLimits.MaxMemoryMB)
	}
	// A default the document sets explicitly above its maximum is a contradiction.
	_, err = Load(LoadOptions{Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON,
		`{"defaultResourceLimits":{"maxMemoryMB":2048},"maximumResourceLimits":{"maxMemoryMB":1024}}`)})
	wantConfigError(t, err, errcode.InvalidInput, "defaultResourceLimits.maxMemoryMB")
}

func TestLoadSeedSectionSnippets(t *testing.T) {
	// Seed snippets for layers that are built load unchanged (drop-in compatibility).
	for _, d := range []string{
		`{"allowedExecutables":["node","python3","git"],"blockSetuidExecutables":true,"blockShellInterpreters":true,"additionalBlockedExecutables":["curl","wget"]}`,
		`{"maxArgumentCount":20,"maxArgumentLength":1000,"blockedArgumentPatterns":["--unsafe-.*",".*password.*"]}`,
		`{"additionalBlockedEnvVars":["AWS_SECRET_KEY","DATABASE_PASSWORD"],"allowedEnvVars":["NODE_ENV","LOG_LEVEL"],"maxEnvVarCount":50}`,
		`{"allowedWorkingDirectories":["/app/workspace","/tmp/sandbox"],"blockedWorkingDirectories":["/etc","/root","/home"]}`,
		`{"defaultResourceLimits":{"maxCpuPercent":50,"maxMemoryMB":512,"maxFileDescriptors":100,"maxCpuTime":300,"maxProcesses":5},"maximumResourceLimits":{"maxCpuPercent":80,"maxMemoryMB":2048},"strictResourceEnforcement":true}`,
		`{"maxConcurrentProcesses":10,"maxConcurrentProcessesPerAgent":3,"maxProcessLifetime":3600,"maxTotalProcesses":1000}`,
		`{"maxLaunchesPerMinute":10,"maxLaunchesPerHour":100,"rateLimitCooldownSeconds":300}`,
		`{"allowProcessTermination":true,"allowGroupTermination":false,"allowForcedTermination":false}`,
		`{"allowStdinInput":true,"allowOutputCapture":true,"maxOutputBufferSize":10485760,"blockBinaryStdin":true}`,
		`{"enableAuditLog":true,"auditLogPath":"/var/log/mcp-process/audit.log","auditLogLevel":"info","enableSecurityAlerts":true}`,
		`{"allowedTimeWindows":["Mon-Fri 09:00-17:00"],"blockedTimeWindows":["Sat-Sun *","* 00:00-06:00"]}`,
	} {
		if _, err := Load(LoadOptions{Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON, d)}); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The seed's cicd example switches namespaces on with enableNamespaces alone:
// it loads (drop-in), selecting DefaultNamespaces; a document that names its
// namespaces keeps its own choice, and selecting none explicitly is an error.
func TestEnableNamespacesAloneSelectsDefaults(t *testing.T) {
	env := testEnv("HOME", "/h")
	jail := t.TempDir()
	files := func(doc string) func(string) ([]byte, error) {
		return func(p string) ([]byte, error) {
			if p == "/cfg.json" {
				return []byte(doc), nil
			}
			return nil, fs.ErrNotExist
		}
	}
	l, err := Load(LoadOptions{Profile: "cicd", ConfigPath: "/cfg.json", Cwd: "/srv/start", Getenv: env,
		ReadFile: files(`{"chrootDirectory": "` + jail + `"}`)})
	if err != nil {
		t.Fatalf("cicd with an existing chrootDirectory: %v", err)
	}
	if l.Config.Namespaces != DefaultNamespaces {
		t.Errorf("namespaces = %+v, want %+v", l.Config.Namespaces, DefaultNamespaces)
	}
	l, err = Load(LoadOptions{ConfigPath: "/cfg.json", Cwd: "/srv/start", Getenv: env,
		ReadFile: files(`{"enableNamespaces": true, "namespaces": {"network": true}}`)})
	if err != nil {
		t.Fatal(err)
	}
	if l.Config.Namespaces != (Namespaces{Network: true}) {
		t.Errorf("an explicit selection was changed: %+v", l.Config.Namespaces)
	}
	_, err = Load(LoadOptions{ConfigPath: "/cfg.json", Cwd: "/srv/start", Getenv: env,
		ReadFile: files(`{"enableNamespaces": true, "namespaces": {"pid": false}}`)})
	wantConfigError(t, err, errcode.InvalidInput, "namespaces")
}

// TestLoadWorkingDirectoryIsTheStartDirectory: an absent or empty
// allowedWorkingDirectories means the directory the server was started in
// (SPEC 7.3); started in /, Load refuses, naming the key.
func TestLoadWorkingDirectoryIsTheStartDirectory(t *testing.T) {
	withHost(t, fakeHost{})
	start := t.TempDir()
	for _, tc := range []struct {
		name, doc, profile string
		want               []string
	}{
		{"absent", `{"allowedExecutables": ["node"]}`, "", []string{start}},
		{"empty", `{"allowedExecutables": ["node"], "allowedWorkingDirectories": []}`, "", []string{start}},
		{"set", `{"allowedWorkingDirectories": ["/srv/a", "/srv/b"]}`, "", []string{"/srv/a", "/srv/b"}},
		{"built-in default", "", "", []string{start}},
		{"development profile", "", "development", []string{start}},
		{"cicd profile without its jail", `{"enableChroot": false}`, "cicd", []string{start}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := []string{"HOME", "/h"}
			if tc.doc != "" {
				env = append(env, EnvConfigJSON, tc.doc)
			}
			l, err := Load(LoadOptions{Cwd: start, Profile: tc.profile, Getenv: testEnv(env...), ReadFile: noFiles})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(l.Config.AllowedWorkingDirectories, tc.want) {
				t.Errorf("allowedWorkingDirectories = %v, want %v", l.Config.AllowedWorkingDirectories, tc.want)
			}
			if l.StartDirectory != (tc.name != "set") {
				t.Errorf("StartDirectory = %v", l.StartDirectory)
			}
			// Started in /: refused unless the document names directories.
			_, err = Load(LoadOptions{Cwd: "/", Profile: tc.profile, Getenv: testEnv(env...), ReadFile: noFiles})
			if tc.name == "set" {
				if err != nil {
					t.Errorf("started in / with allowedWorkingDirectories set: %v", err)
				}
				return
			}
			ce := wantConfigError(t, err, errcode.InvalidInput, "allowedWorkingDirectories")
			if !strings.Contains(ce.Message, "started in /") || !strings.Contains(ce.Remedy, "allowedWorkingDirectories") {
				t.Errorf("message %q remedy %q", ce.Message, ce.Remedy)
			}
		})
	}
	t.Run("a symbolic link to /", func(t *testing.T) {
		link := filepath.Join(t.TempDir(), "root")
		must(t, os.Symlink("/", link))
		_, err := Load(LoadOptions{Cwd: link, Getenv: testEnv("HOME", "/h"), ReadFile: noFiles})
		wantConfigError(t, err, errcode.InvalidInput, "allowedWorkingDirectories")
	})
}

// TestProfilesNameNoMissingDirectory: the built-in profiles name no
// directory a stock host lacks (SPEC 7.3); maximum is refused only while
// the network layer is not built, cicd starts with a composed jail, never
// a refusal for a missing directory; the cicd window is the whole day.
func TestProfilesNameNoMissingDirectory(t *testing.T) {
	withHost(t, fakeHost{})
	withLayerBuilt(t, "chroot")
	for _, name := range ProfileNames() {
		c, err := Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		paths := append(append(append([]string{c.ChrootDirectory}, c.AllowedWorkingDirectories...), c.WritablePaths...), c.BlockedWorkingDirectories...)
		for _, p := range paths {
			if p != "" {
				t.Errorf("profile %s names the directory %s", name, p)
			}
		}
		for _, seed := range []string{"/var/sandbox", "/ci/sandbox", "/app/sandbox", "/home/user/projects", "/ci/workspace"} {
			if strings.Contains(profileDocs[name], seed) {
				t.Errorf("profile %s names %s", name, seed)
			}
		}
	}
	start := t.TempDir()
	_, err := Load(LoadOptions{Profile: "maximum", Cwd: start, Getenv: testEnv("HOME", "/h"), ReadFile: noFiles})
	if !LayerBuilt("network") {
		wantConfigError(t, err, errcode.LayerUnavailable, "blockNetworkAccess")
	}
	// cicd starts: its jail is composed at launch.
	l, err := Load(LoadOptions{Profile: "cicd", Cwd: start, Getenv: testEnv("HOME", "/h"), ReadFile: noFiles})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Config.ComposedJail() {
		t.Errorf("cicd: ComposedJail false")
	}
	if !slices.Equal(l.Config.AllowedTimeWindows, []string{"* 00:00-24:00"}) {
		t.Errorf("cicd windows %v", l.Config.AllowedTimeWindows)
	}
}
