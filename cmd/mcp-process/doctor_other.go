//go:build !linux

package main

import "runtime"

// hostFeatures: every kernel layer is Linux only, so each is unavailable
// here (and a config that asks for one is refused).
func hostFeatures() []feature {
	why := "not available on " + runtime.GOOS + ": the kernel layers are Linux only"
	var fs []feature
	for _, n := range []string{"namespaces", "cgroups", "seccomp", "landlock", "executable-scope-tree", "apparmor", "selinux", "chroot", "capabilities"} {
		fs = append(fs, feature{n, false, why})
	}
	return fs
}
