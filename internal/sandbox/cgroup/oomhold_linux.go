//go:build linux

package cgroup

import (
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// oomHold makes a cgroup v1 memory group go down as one when it reaches
// its limit, as memory.oom.group does on v2. On v1 the kernel's OOM killer
// kills one process of the group and the others go on (a tree of three
// 40 MB children under 64 MB: two finished). So the group's OOM killer is
// held off (memory.oom_control oom_kill_disable 1): a task that would
// exceed the limit waits, killable, in the kernel, and the kernel signals
// the OOM on an eventfd registered through cgroup.event_control. The
// group's own goroutine, woken by that event (no polling), kills the whole
// group at once (Kill) and counts it in OOMKills, so the exit is reported
// as killed for memory.
//
// The hold is armed only once the notification is registered, so a group
// never waits on an OOM that nobody hears. Remove stops the goroutine
// (closing the eventfd) before it removes the group. If the server dies,
// the watchdog kills and removes the group (its waiting tasks included).
type oomHold struct {
	efd    *os.File // the eventfd, non-blocking: read through the runtime poller
	done   chan struct{}
	stop   sync.Once
	killed bool // under Group.mu: the group was killed for its memory limit
}

// holdOOM arms g's OOM hold (v1 memory groups only, once). An error leaves
// the kernel's own OOM killer in place and fails the memory limit: the tree
// could not be killed as one.
func (g *Group) holdOOM() error {
	g.mu.Lock()
	armed := g.oom != nil
	g.mu.Unlock()
	if armed || g.mem == "" || g.m.v2Limits {
		return nil
	}
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return &os.SyscallError{Syscall: "eventfd", Err: err}
	}
	ctl, err := unix.Open(g.mem+"/memory.oom_control", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(efd)
		return &os.PathError{Op: "open", Path: g.mem + "/memory.oom_control", Err: err}
	}
	// "<eventfd> <fd of memory.oom_control>": the kernel signals the
	// eventfd when the group is under OOM (and when the group is removed).
	err = g.m.ops.write(g.mem+"/cgroup.event_control", strconv.Itoa(efd)+" "+strconv.Itoa(ctl))
	unix.Close(ctl) // the registration keeps what it needs
	if err == nil {
		err = g.m.ops.write(g.mem+"/memory.oom_control", "1")
	}
	if err != nil {
		unix.Close(efd)
		return err
	}
	h := &oomHold{efd: os.NewFile(uintptr(efd), "memory.oom_control eventfd"), done: make(chan struct{})}
	g.mu.Lock()
	g.oom = h
	g.mu.Unlock()
	go g.awaitOOM(h)
	return nil
}

// awaitOOM waits for the OOM event and kills the group. It ends at the
// first event, or when stopOOMHold closes the eventfd.
func (g *Group) awaitOOM(h *oomHold) {
	defer close(h.done)
	var b [8]byte
	for {
		if _, err := h.efd.Read(b[:]); err != nil {
			return // closed by stopOOMHold
		}
		if !g.underOOM() {
			continue // the group's removal, or a spurious wake
		}
		g.mu.Lock()
		h.killed = !g.removed
		g.mu.Unlock()
		if h.killed {
			_ = g.Kill() // SIGKILL wakes the waiting tasks: they exit
		}
		return
	}
}

// underOOM reads under_oom from memory.oom_control.
func (g *Group) underOOM() bool {
	b, err := readCtl(g.mem + "/memory.oom_control")
	if err != nil {
		return false
	}
	n, _ := keyedValue(b, "under_oom")
	return n == 1
}

// stopOOMHold ends the group's OOM goroutine and waits for it (it may be
// killing the group). Call it without g.mu held.
func (g *Group) stopOOMHold() {
	g.mu.Lock()
	h := g.oom
	g.mu.Unlock()
	if h == nil {
		return
	}
	h.stop.Do(func() { h.efd.Close() })
	<-h.done
}

// oomHeldKill is 1 when the group was killed for its memory limit by its
// OOM hold, else 0.
func (g *Group) oomHeldKill() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.oom != nil && g.oom.killed {
		return 1
	}
	return 0
}
