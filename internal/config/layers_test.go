package config

import (
	"maps"
	"slices"
	"testing"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// The registry's keys are config keys, and the keys that ask for an
// optional layer or turn a layer on are exactly those config checks
// (keyAsks).
func TestRegistryKeysAreConfigKeys(t *testing.T) {
	for _, in := range layer.All() {
		for _, k := range in.Keys {
			if _, ok := keyDocs[k]; !ok {
				t.Errorf("layer %s: key %q is not a config key", in.Layer, k)
			}
		}
	}
	want := layer.OptionalKeys()
	for _, k := range layer.OnKeys() {
		if !slices.Contains(want, k) {
			want = append(want, k)
		}
	}
	if got, want := slices.Sorted(maps.Keys(keyAsks)), slices.Sorted(slices.Values(want)); !slices.Equal(got, want) {
		t.Errorf("keyAsks has %v, the registry's optional and on keys are %v", got, want)
	}
	for _, lk := range layerKeys {
		for _, l := range lk.layers {
			if in, ok := layer.Lookup(l); !ok || !in.Optional {
				t.Errorf("key %s asks for %q, not an optional layer of the registry", lk.key, l)
			}
		}
	}
}

// The report has one state per enforcement layer of the registry, says
// which are off and why, and takes the host's state where it has one.
func TestLayerStates(t *testing.T) {
	c := Defaults()
	c.Landlock = false
	c.EnableSeccomp = true
	m := c.LayerStates(func(l layer.Layer) (string, bool) { return "host says", l == layer.ResourceLimits })
	var want []string
	for _, in := range layer.Of(layer.Enforced) {
		want = append(want, string(in.Layer))
	}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Fatalf("keys %v, want %v", got, want)
	}
	for k, v := range map[string]string{
		"executables":     "enforced",
		"seccomp":         "enforced",
		"namespaces":      "off (enableNamespaces)",
		"landlock":        "off (landlock)",
		"time-windows":    "off (no windows configured)",
		"audit":           "enforced",
		"resource-limits": "host says",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	// On keys, not every key: namespaces without enableNamespaces, and
	// writablePaths without readOnlyFilesystem, turn nothing on; one time
	// window turns its layer on.
	c.Namespaces = Namespaces{PID: true}
	c.ReadOnlyFilesystem = false
	c.WritablePaths = []string{"/tmp"}
	c.BlockedTimeWindows = []string{"Sat-Sun 00:00-23:59"}
	c.EnableAuditLog = false
	m = c.LayerStates(nil)
	for k, v := range map[string]string{
		"namespaces":   "off (enableNamespaces)",
		"filesystem":   "off (readOnlyFilesystem, tmpfsSize, writablePaths)",
		"time-windows": "enforced",
		"audit":        "off (enableAuditLog false)",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	withLayerUnbuilt(t, "chroot")
	if s := c.LayerStates(nil)["chroot"]; s != "not built in this version (enableChroot refused)" {
		t.Errorf("chroot not built: %q", s)
	}
}
