//go:build unix

package supervisor

import "syscall"

// sigXCPU is the signal RLIMIT_CPU sends at its soft limit.
const sigXCPU = syscall.SIGXCPU

// killPid signals one process (a member of a launch's cgroup).
func killPid(pid int, sig syscall.Signal) { syscall.Kill(pid, sig) }
