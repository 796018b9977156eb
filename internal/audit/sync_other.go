//go:build !linux

package audit

import "os"

// dataSync is fsync where fdatasync is not offered.
func dataSync(f *os.File) error { return f.Sync() }
