package config

import (
	"os"
	"strings"
	"testing"
)

func TestIsAlwaysBlockedExecutable(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"sudo", true}, {"SUDO", true}, {"Rm", true}, {"mkfs", true}, {"mkfs.ext4", true},
		{"MKFS.XFS", true}, {"env", true}, {"xargs", true}, {"busybox", true}, {"gdb", true},
		{"timeout", true}, {"chroot", true}, {"nsenter", true},
		{"node", false}, {"git", false}, {"rmx", false}, {"sudoedit", false}, {"", false}, {"mk", false},
	} {
		if got := IsAlwaysBlockedExecutable(tc.name); got != tc.want {
			t.Errorf("IsAlwaysBlockedExecutable(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsShell(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"sh", true}, {"BASH", true}, {"dash", true}, {"zsh", true}, {"busybox", true}, {"toybox", true},
		{"mksh", true}, {"fish", true}, {"node", false}, {"shx", false}, {"python3", false},
	} {
		if got := IsShell(tc.name); got != tc.want {
			t.Errorf("IsShell(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsAlwaysBlockedEnvVar(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"LD_PRELOAD", true}, {"ld_preload", true}, {"LD_LIBRARY_PATH", true}, {"LD_AUDIT", true},
		{"DYLD_INSERT_LIBRARIES", true}, {"path", true}, {"PYTHONPATH", true}, {"NODE_OPTIONS", true},
		{"BASH_ENV", true}, {"ENV", true}, {"IFS", true}, {"TZDIR", true}, {"_JAVA_OPTIONS", true},
		{"GIT_SSH_COMMAND", true}, {"GIT_CONFIG_COUNT", true}, {"git_config_key_0", true}, {"GIT_CONFIG_VALUE_12", true},
		{"GIT_CONFIG_PARAMETERS", true}, {"GIT_CONFIG_GLOBAL", true}, {"GIT_CONFIG", true}, {"npm_config_script_shell", true},
		{"NPM_CONFIG_USERCONFIG", true}, {"Npm_Config_Registry", true}, {"BASH_FUNC_ls%%", true}, {"PIP_INDEX_URL", true},
		{"PYTHONUSERBASE", true}, {"pythonwarnings", true}, {"LESSOPEN", true}, {"EDITOR", true},
		{"NODE_ENV", false}, {"LOG_LEVEL", false}, {"LDX", false}, {"MYPATH", false}, {"HOME", false},
		{"GIT_AUTHOR_NAME", false}, {"GIT_COMMITTER_EMAIL", false}, {"GIT_SSH_VARIANT", false}, {"GIT_CONFIGX", false},
		{"NPM_CONFIG", false}, {"LESSONS", false}, {"PIPE", false}, {"XDG_CONFIG_HOME", false}, {"GIT_DIR", false},
	} {
		if got := IsAlwaysBlockedEnvVar(tc.name); got != tc.want {
			t.Errorf("IsAlwaysBlockedEnvVar(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// Every family has a reason and at least one name or prefix, all upper
// case (matching upper-cases the name), and none is listed twice.
func TestAlwaysBlockedEnvWellFormed(t *testing.T) {
	seen := map[string]string{}
	for _, f := range AlwaysBlockedEnv {
		if f.Family == "" || f.Why == "" || len(f.Names)+len(f.Prefixes) == 0 {
			t.Errorf("family %+v is incomplete", f)
		}
		for _, n := range append(append([]string{}, f.Names...), f.Prefixes...) {
			if n != strings.ToUpper(n) {
				t.Errorf("%s (%s) is not upper case: it would never match", n, f.Family)
			}
			if other, dup := seen[n]; dup {
				t.Errorf("%s is in %s and %s", n, other, f.Family)
			}
			seen[n] = f.Family
		}
	}
}

// docs/environment.md names every blocked name and family.
func TestAlwaysBlockedEnvDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/environment.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, f := range AlwaysBlockedEnv {
		for _, n := range f.Names {
			if !strings.Contains(doc, "`"+n+"`") {
				t.Errorf("docs/environment.md does not list `%s` (%s)", n, f.Family)
			}
		}
		for _, p := range f.Prefixes {
			if !strings.Contains(doc, "`"+p+"*`") {
				t.Errorf("docs/environment.md does not list `%s*` (%s)", p, f.Family)
			}
		}
	}
}
