//go:build !linux

package supervisor

import "os"

// readProcFile reads a /proc file (procread_linux.go); buf is not used.
func readProcFile(path string, _ []byte) ([]byte, error) { return os.ReadFile(path) }
