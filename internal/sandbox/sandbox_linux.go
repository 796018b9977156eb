//go:build linux

package sandbox

import layers "github.com/mcp-process/mcp-process/internal/layer"

const layer = layers.Sandbox

func appliedLayers() []string { return layers.Baseline() }
