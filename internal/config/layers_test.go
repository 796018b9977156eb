package config

import (
	"maps"
	"slices"
	"testing"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// The registry's keys are config keys, and the keys that ask for an
// optional layer are exactly those config checks (keyAsks).
func TestRegistryKeysAreConfigKeys(t *testing.T) {
	for _, in := range layer.All() {
		for _, k := range in.Keys {
			if _, ok := keyDocs[k]; !ok {
				t.Errorf("layer %s: key %q is not a config key", in.Layer, k)
			}
		}
	}
	if got, want := slices.Sorted(maps.Keys(keyAsks)), slices.Sorted(slices.Values(layer.OptionalKeys())); !slices.Equal(got, want) {
		t.Errorf("keyAsks has %v, the registry's optional keys are %v", got, want)
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
	withLayerUnbuilt(t, "chroot")
	if s := c.LayerStates(nil)["chroot"]; s != "not built in this version (enableChroot refused)" {
		t.Errorf("chroot not built: %q", s)
	}
}
