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

// AlwaysBlockedEnvVars are the environment variable names no request may set
// and no configuration may allow (SPEC 3.3), matched case-insensitively.
var AlwaysBlockedEnvVars = []string{
	"PATH", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "NODE_PATH", "NODE_OPTIONS",
	"PERL5LIB", "PERL5OPT", "RUBYLIB", "RUBYOPT", "BASH_ENV", "ENV",
	"JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "GIT_SSH_COMMAND", "GIT_EXEC_PATH",
	"GCONV_PATH", "IFS", "TZDIR",
}

// AlwaysBlockedEnvPrefixes are name prefixes that are always blocked
// (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, DYLD_INSERT_LIBRARIES, ...),
// matched case-insensitively.
var AlwaysBlockedEnvPrefixes = []string{"LD_", "DYLD_"}

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
// always blocked (AlwaysBlockedEnvVars or a prefix in
// AlwaysBlockedEnvPrefixes), case-insensitively.
func IsAlwaysBlockedEnvVar(name string) bool {
	n := strings.ToUpper(name)
	for _, p := range AlwaysBlockedEnvPrefixes {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	for _, b := range AlwaysBlockedEnvVars {
		if n == b {
			return true
		}
	}
	return false
}
