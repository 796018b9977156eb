package stage

// keeperSupported: startKeeper exists for this architecture
// (sys_linux_amd64.s).
const keeperSupported = true

// startKeeper clones the keeper (sys_linux_amd64.s).
//
//go:noescape
func startKeeper(word *uint32, stack uintptr) (pid, errno uintptr)
