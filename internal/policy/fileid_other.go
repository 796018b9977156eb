//go:build !unix

package policy

import "io/fs"

// fileID is unavailable here: identity checks are a Unix launch feature.
func fileID(fs.FileInfo) (dev, ino uint64) { return 0, 0 }
