package config

import "testing"

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
		{"GIT_SSH_COMMAND", true},
		{"NODE_ENV", false}, {"LOG_LEVEL", false}, {"LDX", false}, {"MYPATH", false}, {"HOME", false},
	} {
		if got := IsAlwaysBlockedEnvVar(tc.name); got != tc.want {
			t.Errorf("IsAlwaysBlockedEnvVar(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
