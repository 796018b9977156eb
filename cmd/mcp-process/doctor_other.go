//go:build !linux

package main

import "github.com/mcp-process/mcp-process/internal/hostfeat"

// aboveKernelProbes: every kernel layer is Linux only, so each of these
// rows is unavailable here, as hostfeat's are (the cgroup manager answers
// its own two rows), and a config that asks for one of the layers is
// refused.
func aboveKernelProbes() map[string]func() hostfeat.Result {
	m := map[string]func() hostfeat.Result{}
	for _, n := range aboveKernel {
		m[n] = hostfeat.Unavailable
	}
	return m
}
