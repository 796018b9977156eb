//go:build linux && (amd64 || arm64)

package stage

import (
	"runtime"
	"unsafe"
)

// When the zygote makes the next launch ready. After each fork it makes
// the next child's namespaces, mount namespace and hidden files' read
// rules ahead (prepareNS, prepareMountNS, prepareHidden): ~300 µs of
// processor on this kind of host. Made at once, that work ran beside the
// child it had just forked, whose steps (its view, its Landlock layers,
// its cgroup joins) then waited for the processor: ~240 µs a launch, on
// the launch's path (a kernel trace of the child's scheduling, two
// processors; docs/performance.md, session 15).
//
// So the zygote first waits, in a raw call, for whichever comes first:
//   - the child has ended (its pidfd is readable): the preparation then
//     runs beside the server's exit record and answer, most of which is
//     the disk's wait, not the processor's;
//   - a launch is on the socket: the preparation runs at once, before the
//     zygote reads it, as it always did (the launch finds it made);
//   - prepareWaitMax has passed (a target that runs on): the preparation
//     runs beside it, as it always did.
//
// The wait changes when the preparation runs, never what it makes or
// whether a launch uses it: a launch takes a namespace or a ruleset made
// ahead only after the checks that it is still current (useMountNS,
// takeHiddenReady), whenever it was made.

// prepareWaitMax bounds the wait for the child's end (ns; a variable for
// the tests).
var prepareWaitMax int64 = 10 * 1000 * 1000

// nrPidfdOpen is pidfd_open(2), the same number on amd64 and arm64.
const nrPidfdOpen = 434

// lastChild is the pid of the child the last launch forked (0: none).
var lastChild int

// awaitChildEnd waits until the last launch's child has ended, a launch
// is on the zygote's socket, or prepareWaitMax has passed. The pidfd is
// opened once the reply is sent: the server, the child's parent, may
// have reaped it by then and its pid gone to another process, whose end
// the zygote then waits for (at most prepareWaitMax): only the moment of
// the preparation changes. Without a pidfd (pidfd_open refused, the pid
// gone) it returns at once.
func awaitChildEnd() {
	pid := lastChild
	lastChild = 0
	if pid <= 0 {
		return
	}
	pfd, e := rawSyscall6(nrPidfdOpen, uintptr(pid), 0, 0, 0, 0, 0)
	if e != 0 {
		return
	}
	defer sysClose(int(pfd))
	ts := [2]int64{prepareWaitMax / 1e9, prepareWaitMax % 1e9} // struct timespec; ppoll leaves the time remaining in it
	fds := [2]pollFD{{fd: int32(sock), events: pollIn}, {fd: int32(pfd), events: pollIn}}
	for {
		// A raw call, as awaitLaunch's first wait: a few ms at most.
		_, e := rawSyscall6(nrPpoll, uintptr(unsafe.Pointer(&fds[0])), 2, uintptr(unsafe.Pointer(&ts)), 0, 8, 0)
		runtime.KeepAlive(&fds)
		runtime.KeepAlive(&ts)
		if e != eINTR {
			return
		}
	}
}
