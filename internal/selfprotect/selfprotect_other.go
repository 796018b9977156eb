//go:build !linux

package selfprotect

// Dumpable reports false: there is no such mark here.
func Dumpable() bool { return false }
