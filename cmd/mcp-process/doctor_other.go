//go:build !linux

package main

import (
	"runtime"
	"slices"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// hostFeatures: every kernel layer is Linux only, so each of doctor's rows
// (the registry's and serverRows, but rowsAfterHost) is unavailable here,
// and a config that asks for one of the layers is refused.
func hostFeatures() []feature {
	why := "not available on " + runtime.GOOS + ": the kernel layers are Linux only"
	var fs []feature
	for _, n := range append(layer.DoctorRows(), serverRows...) {
		if !slices.Contains(rowsAfterHost, n) {
			fs = append(fs, feature{n, false, why})
		}
	}
	return fs
}
