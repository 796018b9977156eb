//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A tree over its memory limit goes down as one (SPEC 3.5 "the whole tree's
// memory"). Three children of 40 MB each under 64 MB: on cgroup v1 the
// kernel's OOM killer used to kill one of them and the others went on to
// finish; now the group's OOM killer is held off and the OOM event kills
// the whole group at once (v2: memory.oom.group). No child writes its
// marker, the shell that waits for them dies too, and OOMKills counts it.
func TestLiveMemoryLimitKillsTheWholeTree(t *testing.T) {
	m := liveManager(t)
	requireSupport(t, m, "memory", m.Support().Memory)
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("python3 not available")
	}
	g := newGroup(t, m, Limits{MemoryBytes: 64 << 20})
	dir := t.TempDir()
	child := `/usr/bin/python3 -c 'import sys, time
b = b"x" * (40 << 20)
time.sleep(2)
open(sys.argv[1], "w").write("survived")' `
	c := startGated(t, `for i in 1 2 3; do `+child+dir+`/done-$i & done; wait; echo shell-finished > `+dir+`/shell`)
	if err := g.Join(c.cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	c.release(t)
	st := c.wait(t, 30*time.Second)
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Errorf("the shell ended with %v, want killed by SIGKILL with its children", st)
	}
	// Give a survivor the time to finish its sleep and write its marker.
	time.Sleep(3 * time.Second)
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 0 {
		t.Errorf("processes of the tree went on after the OOM: %v", left)
	}
	if pop, err := g.Populated(); err != nil || pop {
		t.Errorf("group populated %v (%v) after the OOM", pop, err)
	}
	if n, err := g.OOMKills(); err != nil || n < 1 {
		t.Errorf("OOMKills = %d, %v; want >= 1", n, err)
	}
}
