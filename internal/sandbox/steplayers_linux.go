//go:build linux

package sandbox

import (
	layers "github.com/mcp-process/mcp-process/internal/layer"
)

// stepLayer is the layer a failed step of the init stage reports
// (stepError): the registry's entry whose Steps hold it (layer.ForStep), a
// step name is never a layer name. The steps no layer owns (config, stdio,
// fds, gate, chdir, exec, identity) are the init stage's own: Sandbox.
func stepLayer(step string) layers.Layer {
	if l, ok := layers.ForStep(step); ok {
		return l
	}
	return layers.Sandbox
}
