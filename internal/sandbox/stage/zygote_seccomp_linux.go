//go:build linux && (amd64 || arm64)

package stage

import (
	"runtime"
	"unsafe"
)

// Performance machinery with a security step's care: the seccomp baseline
// installed once, on the zygote, instead of once per launch (ZygoteSeccompEnv).
// A filter installed by seccomp(2) costs the kernel a program's allocation,
// check and compilation, and its release when the last task holding it
// exits: inheriting it instead takes 120-190 µs off a call here (the filter
// still checks every call of the target; docs/performance.md, session 14). A
// child inherits its parent's filter at the fork and keeps it across the
// exec, so a child of a filtered zygote runs every step, and its target,
// under it, as it would under the one it installed itself.
//
// The zygote is a Go process: other threads than the one that forks exist,
// and a thread created later inherits the filter of the thread that creates
// it. SECCOMP_FILTER_FLAG_TSYNC installs the filter on every thread of the
// zygote at once (and gives each the caller's no_new_privs), so every
// thread, and every thread and child made after, has it.

const seccompFilterFlagTsync = 1

// inheritSeccomp installs filter (nil: nothing) on every thread of the
// zygote, after setting no_new_privs, and remembers it (zy.seccomp) so that
// a launch with the same program skips its own seccomp step. When the
// kernel refuses it (TSYNC attaches it to no thread then), zy.seccomp stays
// nil: each child installs the program itself, as before, and fails its
// launch if the kernel refuses it there too.
func inheritSeccomp(filter []byte) {
	if len(filter) == 0 {
		return
	}
	if _, e := rawSyscall6(nrPrctl, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return
	}
	prog := make([]uint64, len(filter)/8) // struct sock_filter's alignment
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(filter)), filter)
	p := sockFprog{len: uint16(len(prog)), filter: (*byte)(unsafe.Pointer(&prog[0]))}
	r, e := rawSyscall6(nrSeccomp, seccompSetModeFilter, seccompFilterFlagTsync, uintptr(unsafe.Pointer(&p)), 0, 0, 0)
	runtime.KeepAlive(&p)
	runtime.KeepAlive(prog)
	if e != 0 || r != 0 {
		return // refused, or a thread that could not take it (r: its tid): attached to none
	}
	zy.seccomp = filter
}

// sameBytes reports whether a and b hold the same bytes (and a is not empty).
func sameBytes(a, b []byte) bool {
	if len(a) == 0 || len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
