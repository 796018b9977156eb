//go:build linux

package sandbox

import (
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// stepLayers names, for a step of the init stage, the registered layer
// its failure reports (stepError): a step name is never a layer name.
var stepLayers = map[string]layers.Layer{
	stage.StepRlimit:     layers.ResourceLimits,
	stage.StepMounts:     layers.Filesystem,
	stage.StepPrivate:    layers.Filesystem,
	stage.StepHostname:   layers.Namespaces,
	stage.StepLoopback:   layers.Network,
	stage.StepEgress:     layers.Network,
	stage.StepNetRules:   layers.Network,
	stage.StepCaps:       layers.Capabilities,
	stage.StepNoNewPrivs: layers.NoNewPrivs,
	stage.StepLandlock:   layers.Landlock,
	stage.StepScope:      layers.Landlock,
	stage.StepSeccomp:    layers.Seccomp,
	stage.StepMAC:        layers.MAC,
	stage.StepTerminal:   layers.PTY,
}

// stepLayer is the layer of a failed step: the init stage itself
// (layers.Sandbox) for the steps no layer owns (config, stdio, fds, gate,
// chdir, exec, identity).
func stepLayer(step string) layers.Layer {
	if l, ok := stepLayers[step]; ok {
		return l
	}
	return layers.Sandbox
}
