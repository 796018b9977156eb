package config

import (
	"fmt"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// The layers a configuration asks for, from the registry (package layer):
// which keys ask for which Optional layer, whether this build has it, and
// the per-layer report of validate, doctor and process_get_policy.

// keyAsks says, for each key of an Optional layer (layer.OptionalKeys)
// and each key that turns a layer on (layer.OnKeys), whether a
// configuration sets it to a value that asks for its layer. Every such key
// has an entry (layerKeys panics otherwise; TestRegistryKeysAreConfigKeys).
var keyAsks = map[string]func(*Config) bool{
	"enableNamespaces":               func(c *Config) bool { return c.EnableNamespaces },
	"namespaces":                     func(c *Config) bool { return c.Namespaces != Namespaces{} },
	"enableChroot":                   func(c *Config) bool { return c.EnableChroot },
	"enableSeccomp":                  func(c *Config) bool { return c.EnableSeccomp },
	"blockNetworkAccess":             func(c *Config) bool { return c.BlockNetworkAccess },
	"allowedNetworkDestinations":     func(c *Config) bool { return len(c.AllowedNetworkDestinations) > 0 },
	"blockedNetworkDestinations":     func(c *Config) bool { return len(c.BlockedNetworkDestinations) > 0 },
	"requireConfirmation":            func(c *Config) bool { return c.RequireConfirmation },
	"requireConfirmationFor":         func(c *Config) bool { return len(c.RequireConfirmationFor) > 0 },
	"requireTerminationConfirmation": func(c *Config) bool { return c.RequireTerminationConfirmation },
	"enableMAC":                      func(c *Config) bool { return c.EnableMAC },
	"dropCapabilities":               func(c *Config) bool { return len(c.DropCapabilities) > 0 },
	"keepCapabilities":               func(c *Config) bool { return len(c.KeepCapabilities) > 0 },
	"readOnlyFilesystem":             func(c *Config) bool { return c.ReadOnlyFilesystem },
	"tmpfsSize":                      func(c *Config) bool { return c.TmpfsSize > 0 },
	"writablePaths":                  func(c *Config) bool { return len(c.WritablePaths) > 0 },
	"landlock":                       func(c *Config) bool { return c.Landlock },
	"enableAuditLog":                 func(c *Config) bool { return c.EnableAuditLog },
	"allowedTimeWindows":             func(c *Config) bool { return len(c.AllowedTimeWindows) > 0 },
	"blockedTimeWindows":             func(c *Config) bool { return len(c.BlockedTimeWindows) > 0 },
}

// layerKey is a key that asks for an enforcement layer. A key whose enabling
// func reports true is refused unless one of its layers is built.
type layerKey struct {
	key      string
	layers   []string
	enabling func(*Config) bool
}

// layerKeys lists every key that enables a layer, in the order they are
// checked (the first refused key is reported): the registry's Optional
// layers' keys, in registry order.
var layerKeys = func() []layerKey {
	var out []layerKey
	for _, k := range layer.OptionalKeys() {
		f, ok := keyAsks[k]
		if !ok {
			panic(fmt.Sprintf("config: layer key %q has no entry in keyAsks", k))
		}
		lk := layerKey{key: k, enabling: f}
		for _, l := range layer.ForKey(k) {
			lk.layers = append(lk.layers, string(l))
		}
		out = append(out, lk)
	}
	return out
}()

// builtLayers says which Optional layers this build has (layer.Built). A
// configuration that enables a layer marked false is refused with
// LAYER_UNAVAILABLE; building a layer means flipping its entry in the
// registry (tests flip it here).
var builtLayers = func() map[string]bool {
	m := map[string]bool{}
	for _, in := range layer.Of(layer.Enforced) {
		if in.Optional {
			m[string(in.Layer)] = layer.Built(in.Layer)
		}
	}
	return m
}()

// LayerBuilt reports whether the named optional layer is built into this
// binary (see builtLayers). Unknown names report false.
func LayerBuilt(name string) bool { return builtLayers[name] }

// UnavailableLayerKeys lists the keys that are refused when set to an
// enabling value because their layer is not built.
func UnavailableLayerKeys() []string {
	var keys []string
	for _, lk := range layerKeys {
		if !anyBuilt(lk.layers) {
			keys = append(keys, lk.key)
		}
	}
	return keys
}

func anyBuilt(layers []string) bool {
	for _, l := range layers {
		if builtLayers[l] {
			return true
		}
	}
	return false
}

// LayerStates is the per-layer report of validate, doctor and
// process_get_policy for c (layer.Report): hostState gives the states the
// host decides (cgroups, the tree hold, the network mode); it may be nil.
func (c *Config) LayerStates(hostState func(layer.Layer) (string, bool)) map[string]string {
	if hostState == nil {
		hostState = func(layer.Layer) (string, bool) { return "", false }
	}
	return layer.Report(reportHost{c, hostState})
}

type reportHost struct {
	c     *Config
	state func(layer.Layer) (string, bool)
}

func (h reportHost) Set(key string) bool                { return keyAsks[key] != nil && keyAsks[key](h.c) }
func (h reportHost) Built(l layer.Layer) bool           { return LayerBuilt(string(l)) }
func (h reportHost) State(l layer.Layer) (string, bool) { return h.state(l) }
