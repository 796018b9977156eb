//go:build linux

package sandbox

const layer = "sandbox"

func appliedLayers() []string {
	return []string{LayerInitStage, LayerExecByFD, LayerProcessGroup, LayerPdeathsig, LayerBuiltEnv, LayerNoCoreDumps,
		LayerNoNewPrivs, LayerCapabilities}
}
