package supervisor

import (
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// capturePipeSize is the capacity of the pipes a child's output is
// captured through (the kernel's default is 64 KiB; 1 MiB is the default
// /proc/sys/fs/pipe-max-size). Every time a pipe fills, the writer sleeps
// until the server's reader has run: with 64 KiB that is a wake-up of each
// per 64 KiB, which on a busy machine bounds a fast writer's rate more
// than the copies do. The pages are allocated as the child writes them,
// charged to its memory cgroup, and freed as the server reads them.
const capturePipeSize = 1 << 20

// growCapturePipe asks for capturePipeSize on the pipe f, best effort (a
// pipe keeps its size when the kernel refuses). Only for a server with
// CAP_SYS_RESOURCE or CAP_SYS_ADMIN: the kernel counts every pipe's
// capacity against its user's pipe-user-pages-soft (64 MiB) and, past it,
// gives that user's new pipes two pages, its children's included when they
// run as the server's uid; a privileged server is exempt.
func growCapturePipe(f *os.File) {
	if !pipeLimitExempt() {
		return
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, capturePipeSize)
	})
}

// pipeLimitExempt reports whether this process's pipes escape the per-user
// pipe buffer limits (CAP_SYS_RESOURCE or CAP_SYS_ADMIN in its effective
// set), asked once.
var pipeLimitExempt = sync.OnceValue(func() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c uint) bool { return data[c/32].Effective&(1<<(c%32)) != 0 }
	return has(unix.CAP_SYS_RESOURCE) || has(unix.CAP_SYS_ADMIN)
})
