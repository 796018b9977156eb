package config

import "strings"

// AlwaysBlockedExecutables are the executables no configuration can allow
// (SPEC 3.1): privilege and system tools, and exec wrappers that would run an
// arbitrary program around the allowlist. They are matched case-insensitively
// against both the requested name and the resolved file's basename. An entry
// ending in "*" is a prefix ("mkfs*" covers mkfs.ext4, mkfs.xfs, ...).
var AlwaysBlockedExecutables = []string{
	// privilege and system tools
	"sudo", "su", "doas", "pkexec", "chmod", "chown", "chgrp", "rm", "rmdir", "dd",
	"mkfs*", "fdisk", "parted", "iptables", "nft", "systemctl", "service",
	"reboot", "shutdown", "halt", "poweroff", "mount", "umount", "insmod",
	"modprobe", "rmmod",
	// exec wrappers
	"env", "xargs", "nohup", "setsid", "nsenter", "unshare", "chroot", "timeout",
	"nice", "ionice", "stdbuf", "taskset", "busybox", "strace", "ltrace", "gdb",
}

// ShellInterpreters are the shells refused while blockShellInterpreters is
// true (SPEC 3.1), matched case-insensitively against basenames.
var ShellInterpreters = []string{
	"sh", "bash", "dash", "ash", "zsh", "fish", "csh", "tcsh", "ksh", "mksh",
	"busybox", "toybox",
}

// EnvFamily is one group of always-blocked environment variables and the
// reason they are blocked (docs/environment.md lists the same groups).
type EnvFamily struct {
	Family   string   // e.g. "git"
	Why      string   // what the variables make a program load or run
	Names    []string // exact names, upper case
	Prefixes []string // name prefixes (a family such as GIT_CONFIG_*), upper case
}

// AlwaysBlockedEnv is every environment variable no request may set, no
// allowedEnvVars may admit and no inheritEnvVars may copy (SPEC 3.3 and
// 7.1): the variables that make an allowed program load or run other code,
// configuration or credentials. Names and prefixes are matched
// case-insensitively (so npm_config_* and NPM_CONFIG_* alike).
var AlwaysBlockedEnv = []EnvFamily{
	{Family: "dynamic loader and C library",
		Why:      "the loader and libc load shared objects and trusted data files they name, into every dynamically linked program",
		Names:    []string{"GCONV_PATH", "GLIBC_TUNABLES", "LOCPATH", "TZDIR"},
		Prefixes: []string{"LD_", "DYLD_"}},
	{Family: "program lookup",
		Why:   "children get PATH=searchPath: a request's PATH would change which program a name or #!/usr/bin/env runs",
		Names: []string{"PATH"}},
	{Family: "shells",
		Why: "shells run these as code at start-up, on every prompt or trace line, or run commands with the program they name " +
			"(git aliases, npm scripts and less run commands through a shell)",
		Names: []string{"BASH_ENV", "ENV", "IFS", "SHELLOPTS", "BASHOPTS", "PROMPT_COMMAND",
			"PS0", "PS1", "PS2", "PS3", "PS4", "ZDOTDIR", "FPATH", "SHELL"},
		Prefixes: []string{"BASH_FUNC_"}},
	{Family: "editors, pagers and browsers",
		Why:   "programs run the command these name (git commit, git log, man, pydoc, help --web)",
		Names: []string{"EDITOR", "VISUAL", "PAGER", "MANPAGER", "BROWSER", "SYSTEMD_PAGER"}},
	{Family: "credential prompts and agents",
		Why:   "ssh, git, wget and sudo run the askpass program these name; SSH_AUTH_SOCK hands a child an ssh-agent's keys",
		Names: []string{"SSH_ASKPASS", "GIT_ASKPASS", "WGET_ASKPASS", "SUDO_ASKPASS", "SSH_AUTH_SOCK"}},
	{Family: "git",
		Why: "git configuration from the environment (GIT_CONFIG_COUNT/KEY_n/VALUE_n, GIT_CONFIG_PARAMETERS, GIT_CONFIG_GLOBAL, ...) " +
			"sets aliases, hooks, core.fsmonitor, core.sshCommand: commands git runs; the others name a program git runs, " +
			"the directory its helpers or templates (hooks) come from, or let a URL run a command (ext::)",
		Names: []string{"GIT_CONFIG", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_PAGER",
			"GIT_EXTERNAL_DIFF", "GIT_PROXY_COMMAND", "GIT_TEMPLATE_DIR", "GIT_EXEC_PATH",
			"GIT_ALLOW_PROTOCOL", "GIT_PROTOCOL_FROM_USER"},
		Prefixes: []string{"GIT_CONFIG_"}},
	{Family: "python",
		Why: "python imports code from these paths, .pth files and pyc caches (PYTHONUSERBASE, PYTHONPATH, PYTHONPYCACHEPREFIX, ...), " +
			"runs the file or imports the module they name (PYTHONSTARTUP, PYTHONBREAKPOINT, PYTHONWARNINGS categories), " +
			"or reads code from stdin after the script (PYTHONINSPECT)",
		Names: []string{"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "PYTHONWARNINGS",
			"PYTHONBREAKPOINT", "PYTHONINSPECT", "PYTHONPLATLIBDIR", "PYTHONPYCACHEPREFIX", "PYTHONEXECUTABLE", "IPYTHONDIR"}},
	{Family: "pip",
		Why: "every pip option can be set as PIP_<OPTION>: another index or find-links (packages whose build runs code), " +
			"another config file, an editor command; give pip its options as arguments, where the argument policy sees them",
		Prefixes: []string{"PIP_"}},
	{Family: "node",
		Why:   "node loads the modules and options these name (NODE_OPTIONS=--require, NODE_PATH, the REPL's external module) and its ICU data file",
		Names: []string{"NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE", "NODE_ICU_DATA"}},
	{Family: "npm and yarn",
		Why: "every npm setting can be set as npm_config_<key> in any case (script-shell, node-options, git, userconfig, " +
			"registry, ...): the shell scripts run in, the programs npm runs, where packages come from; YARN_* is the same " +
			"for yarn (yarnPath runs a file)",
		Prefixes: []string{"NPM_CONFIG_", "YARN_"}},
	{Family: "perl",
		Why:   "perl loads modules from these paths, takes options (-M) from PERL5OPT and runs the debugger code PERL5DB names",
		Names: []string{"PERL5LIB", "PERLLIB", "PERL5OPT", "PERL5DB", "PERLDB_OPTS"}},
	{Family: "ruby",
		Why:   "ruby loads libraries from these paths, takes options (-r) from RUBYOPT and finds -S scripts in RUBYPATH",
		Names: []string{"RUBYLIB", "RUBYOPT", "RUBYPATH"}},
	{Family: "java",
		Why:   "the JVM takes options (-javaagent) and classes from these",
		Names: []string{"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "CLASSPATH"}},
	{Family: "less",
		Why: "less runs LESSOPEN/LESSCLOSE as input filters, the editor LESSEDIT names, start-up commands from LESS (+!cmd), " +
			"and lesskey files, which can set LESSOPEN",
		Names: []string{"LESS", "LESSOPEN", "LESSCLOSE", "LESSEDIT", "LESSKEY", "LESSKEYIN", "LESSKEY_SYSTEM",
			"LESSKEYIN_SYSTEM", "LESSKEY_CONTENT"}},
	{Family: "downloaders",
		Why:   "wget and curl read another configuration file (wgetrc's use_askpass runs a command; curlrc writes and uploads files)",
		Names: []string{"WGETRC", "SYSTEM_WGETRC", "CURL_HOME"}},
	{Family: "TLS trust and OpenSSL",
		Why: "OpenSSL's configuration loads engines and providers (shared objects); the others replace or switch off the trust " +
			"a child's TLS connections rely on, so a man in the middle could read the credentials a tool sends",
		Names: []string{"OPENSSL_CONF", "OPENSSL_CONF_INCLUDE", "OPENSSL_ENGINES", "OPENSSL_MODULES",
			"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED",
			"GIT_SSL_NO_VERIFY", "GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_CERT", "GIT_SSL_KEY",
			"CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "PYTHONHTTPSVERIFY"}},
}

// IsAlwaysBlockedExecutable reports whether name (a bare name; pass a
// basename, not a path) is in AlwaysBlockedExecutables, case-insensitively,
// with "mkfs*" matching every name that starts with "mkfs".
func IsAlwaysBlockedExecutable(name string) bool {
	n := strings.ToLower(name)
	for _, b := range AlwaysBlockedExecutables {
		if p, ok := strings.CutSuffix(b, "*"); ok {
			if strings.HasPrefix(n, p) {
				return true
			}
			continue
		}
		if n == b {
			return true
		}
	}
	return false
}

// IsShell reports whether name (a basename) is one of ShellInterpreters,
// case-insensitively.
func IsShell(name string) bool {
	n := strings.ToLower(name)
	for _, s := range ShellInterpreters {
		if n == s {
			return true
		}
	}
	return false
}

// IsAlwaysBlockedEnvVar reports whether the environment variable name is
// always blocked (a name or prefix of AlwaysBlockedEnv), case-insensitively.
func IsAlwaysBlockedEnvVar(name string) bool {
	_, ok := BlockedEnvFamily(name)
	return ok
}

// BlockedEnvFamily returns the AlwaysBlockedEnv family that blocks name,
// case-insensitively, and whether there is one.
func BlockedEnvFamily(name string) (EnvFamily, bool) {
	n := strings.ToUpper(name)
	for _, f := range AlwaysBlockedEnv {
		for _, p := range f.Prefixes {
			if strings.HasPrefix(n, p) {
				return f, true
			}
		}
		for _, b := range f.Names {
			if n == b {
				return f, true
			}
		}
	}
	return EnvFamily{}, false
}
