package sandbox

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// The launch's mount namespace, held from the exec to the reap.
//
// When the last process in a mount namespace exits, the kernel tears the
// namespace down inside that exit, before the parent learns of it: every
// mount of the private view is unmounted and its tmpfs freed. For a
// target that exits soon (echo) that was ~130 µs of its exit, so of the
// time from its exit to its exit record and the answer. A launch with a
// mount namespace of its own is therefore held by the launcher (a
// descriptor of /proc/PID/ns/mnt, taken once the target runs): the exit
// only drops a reference, and the launcher drops its own after the reap,
// on a goroutine that ends with that close (the teardown then runs there,
// beside the exit record). The hold changes nothing the target sees, keeps
// nothing once the reap is through, and is best effort: a descriptor that
// cannot be had (the target gone already) leaves the exit as it was.

// holdMountNS takes the hold, after the exec.
func (p *Process) holdMountNS() {
	if p.launcher == nil || !p.launcher.iso.mountNS() {
		return
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(p.Pid)+"/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped { // reaped meanwhile: nothing left to hold
		unix.Close(fd)
		return
	}
	p.nsHold = fd + 1
}

// dropMountNS lets go of the hold (the reap, with p.mu held).
func (p *Process) dropMountNS() {
	if p.nsHold == 0 {
		return
	}
	fd := p.nsHold - 1
	p.nsHold = 0
	go unix.Close(fd)
}
