//go:build linux && !amd64 && !arm64

package stage

// ZygoteSupported: no zygote without the assembly (the launcher uses stages).
const ZygoteSupported = false

func runZygote() { sysExit(ExitFailed) }

// VMForkSupported: no zygote here.
const VMForkSupported = false
