//go:build linux

package escape

import "testing"

// A child in a network namespace must not see the host's interfaces
// through /sys (SPEC 7.1): the stage mounts a fresh sysfs from inside the
// namespace, whose /sys/class/net lists lo only. The baseline, the same
// probe without the network namespace, lists the host's interfaces.
func TestEscape_SysClassNetHostInterfaces_networkNamespace(t *testing.T) {
	netns := func(extra map[string]any) layer {
		ns := map[string]any{"network": true}
		for k, v := range extra {
			ns[k] = v
		}
		return layer{"enableNamespaces": true, "namespaces": ns}
	}
	for _, tc := range []struct {
		name   string
		layers []layer
	}{
		{"network", []layer{netns(nil)}},
		{"network+user", []layer{netns(map[string]any{"user": true})}},
		{"network+pid+readOnlyFilesystem", []layer{netns(map[string]any{"pid": true}), {"readOnlyFilesystem": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			r := e.attack(t, e.config(tc.layers...), probeBin, "sys-class-net")
			stopped(t, r, "", "network namespace with its own sysfs")
			if r.Detail != "/sys/class/net: lo" {
				t.Fatalf("want lo only: %s", r)
			}
			escaped(t, e.attack(t, e.config(), probeBin, "sys-class-net"), "the network namespace")
		})
	}
}
