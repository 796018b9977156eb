//go:build unix

package policy

import (
	"io/fs"
	"syscall"
)

// fileID returns the device and inode numbers of a stat result.
func fileID(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino) // field types differ per OS
	}
	return 0, 0
}
