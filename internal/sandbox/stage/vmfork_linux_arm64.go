package stage

// vmForkSupported: no clone3Run on this architecture; the zygote forks
// (a copy-on-write copy of itself per launch).
const vmForkSupported = false

func clone3Run(*cloneArgs, uintptr, uintptr, *op, uintptr, uintptr) (uintptr, uintptr) {
	return 0, eNOSYS
}
