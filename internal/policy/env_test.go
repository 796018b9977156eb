package policy

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Variables that make an allowed program load or run other code, config or
// credentials (SPEC 7.1) are refused by name or family, in any case, even
// when allowedEnvVars names them (the config layer refuses such a config;
// here the policy is built without it, to show the allowlist cannot
// re-enable them).
func TestEnvironmentRunsCodeRefused(t *testing.T) {
	f := newFixture(t)
	blocked := []string{
		// git
		"GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_KEY_17", "GIT_CONFIG_GLOBAL",
		"GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG", "GIT_SSH", "GIT_SSH_COMMAND",
		"GIT_ASKPASS", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_PAGER", "GIT_EXTERNAL_DIFF", "GIT_PROXY_COMMAND",
		"GIT_TEMPLATE_DIR", "GIT_EXEC_PATH", "GIT_ALLOW_PROTOCOL", "GIT_PROTOCOL_FROM_USER", "git_config_count",
		// python, pip
		"PYTHONUSERBASE", "PYTHONWARNINGS", "PYTHONBREAKPOINT", "PYTHONINSPECT", "PYTHONSTARTUP", "PYTHONPATH",
		"PYTHONHOME", "PYTHONPYCACHEPREFIX", "PYTHONPLATLIBDIR", "PIP_INDEX_URL", "pip_config_file",
		// node, npm, yarn
		"NODE_REPL_EXTERNAL_MODULE", "NODE_EXTRA_CA_CERTS", "NODE_OPTIONS", "NODE_PATH", "npm_config_script_shell",
		"NPM_CONFIG_NODE_OPTIONS", "Npm_Config_Git", "npm_config_userconfig", "YARN_YARN_PATH",
		// perl, ruby, java
		"PERLLIB", "PERL5LIB", "PERL5OPT", "PERL5DB", "RUBYLIB", "RUBYOPT", "JDK_JAVA_OPTIONS", "CLASSPATH",
		// editors, pagers, prompts, shells
		"BROWSER", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "SSH_ASKPASS", "SSH_AUTH_SOCK", "PROMPT_COMMAND",
		"BASH_FUNC_ls", "BASH_ENV", "ENV", "SHELLOPTS", "PS4", "SHELL", "ZDOTDIR",
		// less, downloaders, TLS
		"LESSOPEN", "LESSCLOSE", "LESS", "LESSKEY", "WGETRC", "CURL_HOME", "OPENSSL_CONF", "SSL_CERT_FILE",
		"GIT_SSL_NO_VERIFY",
		// loader
		"LD_PRELOAD", "LD_AUDIT", "ld_library_path", "GLIBC_TUNABLES", "GCONV_PATH",
	}
	for _, name := range blocked {
		for _, allow := range []bool{false, true} {
			cfg := f.baseConfig()
			if allow {
				cfg.AllowedEnvVars = []string{name, "NODE_ENV"}
			}
			d := mustNew(t, cfg).Evaluate(Request{Executable: "mytrue", Cwd: f.work, Env: map[string]string{name: "x"}}, noon)
			if d.Allow || d.Err == nil || d.Err.Code != errcode.EnvInvalid || d.Err.Layer != string(LayerEnvironment) {
				t.Errorf("%s (allowedEnvVars names it: %v): want ENV_INVALID from %s, got allow=%v %v", name, allow, LayerEnvironment, d.Allow, d.Err)
				continue
			}
			if !strings.Contains(d.Err.Message, name) || !strings.Contains(d.Err.Message, "always blocked") || d.Err.Remedy == "" {
				t.Errorf("%s: the refusal does not name the variable or says no remedy: %v", name, d.Err)
			}
			if strings.Contains(d.Err.Message, "=x") {
				t.Errorf("%s: the refusal shows the value: %v", name, d.Err)
			}
		}
	}
}

// Plain data stays settable.
func TestEnvironmentPlainDataAllowed(t *testing.T) {
	f := newFixture(t)
	env := map[string]string{
		"NODE_ENV": "production", "LOG_LEVEL": "debug", "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.com",
		"GIT_COMMITTER_NAME": "C", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z", "GIT_SSH_VARIANT": "ssh",
		"GIT_TERMINAL_PROMPT": "0", "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
		"XDG_CONFIG_HOME": "/home/agent/.config", "LANG": "C.UTF-8", "TZ": "UTC", "CI": "true", "DEBUG": "app:*",
		"LESSONS": "3", "PIPELINE_ID": "7", "NPM_TOKEN_HINT": "x",
	}
	d := mustNew(t, f.baseConfig()).Evaluate(Request{Executable: "mytrue", Cwd: f.work, Env: env}, noon)
	checkDecision(t, d, "", "")
	for n, v := range env {
		if !slices.Contains(d.Spec.Env, n+"="+v) {
			t.Errorf("%s=%s missing from the child's environment %q", n, v, d.Spec.Env)
		}
	}
}

// The child's environment is exactly the base, the inherited variables,
// the request's (which override both) and HOME, each once, sorted as
// "NAME=value" strings ("A1=…" before "A=…").
func TestEnvironmentComposedExactly(t *testing.T) {
	f := newFixture(t)
	cfg := f.baseConfig()
	cfg.InheritEnvVars = []string{"TZ", "UNSET_HERE", "TERM"}
	server := map[string]string{"TZ": "Europe/Paris", "TERM": "xterm", "SECRET": "s"}
	p := mustNew(t, cfg, WithHomes(f.root), WithGetenv(func(n string) string { return server[n] }))
	for i := range 20 { // the map's order differs from run to run
		d := p.Evaluate(Request{Agent: "a1", Executable: "mytrue", Cwd: f.work,
			Env: map[string]string{"A": "1", "A1": "2", "LANG": "de_DE.UTF-8", "TZ": "UTC", "Z_": ""}}, noon)
		checkDecision(t, d, "", "")
		want := []string{"A1=2", "A=1", "HOME=" + filepath.Join(f.root, "a1"), "LANG=de_DE.UTF-8", "PATH=" + f.bin,
			"TERM=xterm", "TMPDIR=/tmp", "TZ=UTC", "Z_="}
		if !slices.Equal(d.Spec.Env, want) {
			t.Fatalf("decision %d: Env\n%q, want\n%q", i, d.Spec.Env, want)
		}
	}
}
