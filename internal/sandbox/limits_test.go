package sandbox

import "github.com/mcp-process/mcp-process/internal/config"

func policyLimits() config.ResourceLimits {
	return config.ResourceLimits{MaxMemoryMB: 64, MaxCpuTime: 5}
}
