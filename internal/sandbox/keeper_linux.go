//go:build linux

package sandbox

// Performance machinery, not a security step: the launcher's side of each
// stage's keeper (stage/keeper_linux.go), a process that holds the stage's
// address space so that the target's exec does not have to tear it down.
// What the keeper changes is the cost of the exec, never what the target
// gets (TestPooledLaunchIsolatedAsCold).

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// keeperState is what the launcher knows of a stage's keeper (stage
// keeper_linux.go: a child of ours that holds the stage's address space so
// that the exec of the target does not tear it down). The stage reports
// it in its first message (MsgKeeper).
type keeperState struct {
	known  bool        // the stage's MsgKeeper was read
	keeper *os.Process // its keeper (nil: none)
}

// reap reaps the stage's keeper once the stage is reaped (and so no longer
// holds the memory: the keeper exits by itself; killing it only hastens
// that).
func (k *keeperState) reap() {
	if k.keeper != nil {
		k.keeper.Kill()
		k.keeper.Wait()
		k.keeper = nil
	}
}

// find looks for the keeper of a stage that died before it reported one:
// a child of ours in the stage's process group other than the stage. The
// stage must have exited and not be reaped yet, so that its pid, which is
// the group's id, cannot have been reused.
func (k *keeperState) find(stagePid int) {
	if k.known {
		return
	}
	k.known = true
	me := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == stagePid {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		st := string(b)
		f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:]) // state ppid pgrp ...
		if len(f) > 2 && f[1] == strconv.Itoa(me) && f[2] == strconv.Itoa(stagePid) {
			if proc, err := os.FindProcess(pid); err == nil {
				k.keeper = proc
			}
			return
		}
	}
}

// read reads the stage's first message, MsgKeeper, from sock.
func (k *keeperState) read(sock *os.File) error {
	var b [stage.KeeperSize]byte
	if _, err := io.ReadFull(sock, b[:]); err != nil {
		return err
	}
	pid, ok := stage.DecodeKeeper(b)
	if !ok {
		return fmt.Errorf("the init stage's first message is %q, want %q", b[0], stage.MsgKeeper)
	}
	k.known = true
	if pid > 0 {
		// Our child (CLONE_PARENT), not reaped: the pid is its own.
		proc, err := os.FindProcess(pid)
		if err != nil {
			return err
		}
		k.keeper = proc
	}
	return nil
}

// watchKeeper reaps the stage's keeper as soon as it exits (at the exec of
// the target, or when the stage dies), so that it is not left a zombie for
// the target's life. reap kills it if it is still there (the target can
// stop it: it is in the target's process group) and waits for it.
func (p *Process) watchKeeper() {
	k := p.keeps.keeper
	if k == nil {
		return
	}
	p.keeperDone = make(chan struct{})
	go func() {
		defer close(p.keeperDone)
		k.Wait()
	}()
}
