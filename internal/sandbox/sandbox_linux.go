//go:build linux

package sandbox

import (
	"sync"

	"github.com/mcp-process/mcp-process/internal/policy"
)

const layer = "sandbox"

func appliedLayers() []string {
	return []string{LayerInitStage, LayerExecByFD, LayerProcessGroup, LayerPdeathsig, LayerBuiltEnv, LayerNoCoreDumps,
		LayerNoNewPrivs, LayerCapabilities}
}

var (
	defaultOnce     sync.Once
	defaultLauncher *Launcher
)

// Start launches spec from the package's process-wide launcher, which lives
// as long as the program (use a Launcher to own one with a shorter life).
// As with Launcher.Start, the caller must Release or Abort the process.
func Start(spec *policy.Spec, stdio Stdio) (*Process, error) {
	defaultOnce.Do(func() { defaultLauncher = NewLauncher() })
	return defaultLauncher.Start(spec, stdio)
}
