//go:build !unix

package supervisor

import "syscall"

// sigXCPU does not exist here: no process is ever launched on this
// platform (the sandbox refuses), so it never matches.
const sigXCPU = syscall.Signal(-1)

// killPid does nothing: nothing is launched on this platform.
func killPid(int, syscall.Signal) {}
