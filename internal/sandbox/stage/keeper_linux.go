//go:build linux

package stage

import "unsafe"

// The keeper holds the stage's address space so that the exec of the
// target does not tear it down.
//
// Most of an exec from the stage is the kernel freeing the address space
// the stage's Go runtime built (exit_mmap, in execveat): the exec'ing
// process drops the last user of its old memory. A keeper is a second
// process that shares that memory (clone with CLONE_VM) and does nothing
// but wait: the exec then only drops one of two users, the target starts
// at once, and the keeper, woken by the exec, exits and frees the memory
// on its own time (another CPU), off the launch's path.
//
// What a keeper is and holds: a child of the server (CLONE_PARENT, so the
// server reaps it and the target never sees it as a child), in the stage's
// process group, created when the stage starts — before a warm stage is
// moved into its launch's cgroup, so it is never counted in the launch's
// limits. It closes every descriptor at once, blocks every signal, and
// runs a dozen instructions of assembly: futex-wait on keeperWord until it
// is 0, then exit. keeperWord is the stage's clear_child_tid
// (set_tid_address), which the kernel zeroes, with a futex wake, when the
// stage's thread releases its memory: at the exec of the target, or when
// the stage dies. So the keeper never outlives the stage by more than its
// own exit. It has the stage's credentials from before the launch's
// capabilities were dropped, which the target cannot use: it shares no
// memory, descriptor or signal handler with the target, and ptrace or
// /proc/PID/mem access from the target is refused (the target's
// capabilities are not a superset of the keeper's).
//
// None in a new PID namespace (the stage is the namespace's init, which
// cannot create a sibling, CLONE_PARENT), nor on architectures without
// the assembly: those execs tear the memory down themselves.
var (
	keeperWord  uint32 = 1
	keeperStack []byte
)

// startKeeperProcess starts the keeper and returns its pid (0: none).
func startKeeperProcess() uint32 {
	if !keeperSupported {
		return 0
	}
	if _, e := rawSyscall6(nrSetTidAddress, uintptr(unsafe.Pointer(&keeperWord)), 0, 0, 0, 0, 0); e != 0 {
		return 0
	}
	keeperStack = make([]byte, 4096)
	top := (uintptr(unsafe.Pointer(&keeperStack[0])) + uintptr(len(keeperStack)) - 64) &^ 15
	all, old := ^uint64(0), uint64(0)
	rawSyscall6(nrRtSigprocmask, sigSetmask, uintptr(unsafe.Pointer(&all)), uintptr(unsafe.Pointer(&old)), 8, 0, 0)
	pid, e := startKeeper(&keeperWord, top)
	rawSyscall6(nrRtSigprocmask, sigSetmask, uintptr(unsafe.Pointer(&old)), 0, 8, 0, 0)
	if e != 0 {
		return 0
	}
	return uint32(pid)
}
