//go:build linux && !amd64

package stage

// keeperSupported: no keeper on this architecture; the exec tears the
// stage's address space down itself.
const keeperSupported = false

func startKeeper(*uint32, uintptr) (uintptr, uintptr) { return 0, eNOSYS }
