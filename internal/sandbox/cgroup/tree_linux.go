//go:build linux

package cgroup

import (
	"errors"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// procStart reads a process's start time from /proc (a procState).
func procStart(pid int) (uint64, bool, error) {
	b, err := readCtl("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) {
			return 0, true, nil
		}
		return 0, false, err
	}
	st, ok := parseStartTime(string(b))
	if !ok {
		return 0, false, errors.New("cannot parse /proc/" + strconv.Itoa(pid) + "/stat")
	}
	return st, false, nil
}

// SelfStartTime is this process's start time in clock ticks since boot.
func SelfStartTime() (uint64, error) {
	st, gone, err := procStart(os.Getpid())
	if err == nil && gone {
		err = errors.New("/proc/self/stat not found")
	}
	return st, err
}

// treeKillWait bounds how long killTree keeps killing a group whose
// processes do not all die (a forking tree racing the SIGKILL loop).
const treeKillWait = 5 * time.Second

// killTree kills every process in dir and in every group below it, then
// removes them all, deepest first. It is for groups nobody else manages
// any more: a dead server's (the sweep at start) and, in the watchdog,
// those of the server that just died. It uses what dir's hierarchy offers:
// cgroup.kill (v2, which kills the whole subtree at once); else the v1
// freezer (freezer.state; freezing dir freezes its subtree) or
// cgroup.freeze (v2): freeze, SIGKILL every member, thaw; and in every case
// SIGKILL over every cgroup.procs until all are empty. Groups or files that
// vanish meanwhile (the server removing its own groups in a clean
// shutdown) are not errors.
func (o fsOps) killTree(dir string) error {
	dirs := subtree(dir)
	if len(dirs) == 0 {
		return nil // gone already
	}
	signalAll := func() int {
		n := 0
		for _, d := range dirs {
			b, err := readCtl(d + "/cgroup.procs")
			if err != nil {
				continue
			}
			for _, p := range parsePids(b) {
				if p > 0 {
					n++
					_ = unix.Kill(p, unix.SIGKILL)
				}
			}
		}
		return n
	}
	switch {
	case fileExists(dir + "/cgroup.kill"):
		if err := o.write(dir+"/cgroup.kill", "1"); err != nil && !isNotExist(err) {
			signalAll()
		}
	case fileExists(dir + "/freezer.state"):
		if o.write(dir+"/freezer.state", "FROZEN") == nil {
			waitUntil(time.Second, func() bool {
				b, err := readCtl(dir + "/freezer.state")
				return err != nil || string(trimNL(b)) == "FROZEN"
			})
			signalAll()
			_ = o.write(dir+"/freezer.state", "THAWED")
		}
	case fileExists(dir + "/cgroup.freeze"):
		if o.write(dir+"/cgroup.freeze", "1") == nil {
			waitUntil(time.Second, func() bool {
				b, err := readCtl(dir + "/cgroup.events")
				n, ok := keyedValue(b, "frozen")
				return err != nil || (ok && n == 1)
			})
			signalAll()
			_ = o.write(dir+"/cgroup.freeze", "0")
		}
	}
	deadline := time.Now().Add(treeKillWait)
	sleep := 200 * time.Microsecond
	for signalAll() > 0 {
		if time.Now().After(deadline) {
			break // rmdir below says which group is still busy
		}
		time.Sleep(sleep)
		if sleep < 20*time.Millisecond {
			sleep *= 2
		}
	}
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- { // deepest first
		if err := o.rmdirRetry(dirs[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// subtree lists dir and every directory below it, parents before their
// children; nil when dir does not exist.
func subtree(dir string) []string {
	if !isDir(dir) {
		return nil
	}
	out := []string{dir}
	for i := 0; i < len(out); i++ {
		ents, err := os.ReadDir(out[i])
		if err != nil {
			continue
		}
		for _, e := range ents {
			if e.IsDir() {
				out = append(out, out[i]+"/"+e.Name())
			}
		}
	}
	return out
}

func waitUntil(d time.Duration, done func() bool) {
	deadline := time.Now().Add(d)
	for !done() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// rmdirRetry removes a cgroup directory; a missing one is fine, a busy one
// is retried for up to removeWait.
func (o fsOps) rmdirRetry(dir string) error {
	deadline := time.Now().Add(removeWait)
	sleep := 100 * time.Microsecond
	for {
		err := o.rmdir(dir)
		if err == nil || isNotExist(err) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(sleep)
		if sleep < 10*time.Millisecond {
			sleep *= 2
		}
	}
}

// sweep removes, from the directory own of one hierarchy, the groups of
// every server that is gone (see owner.alive): their processes, orphans
// that must not outlive their server, are killed first. keep is this
// server's own prefix. It returns the groups it removed.
func (o fsOps) sweep(own, keep string, self int, state procState) (removed []string, errs []error) {
	ents, err := os.ReadDir(own)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || name == keep || name == keep+"-server" {
			continue
		}
		ow, ok := parseOwner(name)
		if !ok || ow.alive(self, state) {
			continue
		}
		if err := o.killTree(own + "/" + name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, own+"/"+name)
	}
	return removed, errs
}
