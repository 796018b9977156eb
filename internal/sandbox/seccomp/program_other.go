//go:build !linux

package seccomp

import (
	"runtime"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Layer is the layer name of this package's errors.
const Layer = layer.Seccomp

// Program is unavailable off Linux.
func Program(profile string, allowUnixSockets bool) ([]byte, error) {
	return nil, errcode.Fail(errcode.LayerUnavailable, Layer, "disable enableSeccomp on this host",
		"seccomp is a Linux feature; this is %s", runtime.GOOS)
}

// Available reports that seccomp is a Linux feature.
func Available() (bool, string) {
	return false, "seccomp is a Linux feature; this is " + runtime.GOOS
}
