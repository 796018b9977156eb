//go:build linux && (amd64 || arm64)

package stage

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// The seccomp baseline the zygote installs on itself (ZygoteSeccompEnv)
// is in force during every child's steps: a child's plan, and the maker's,
// must make none of the calls it refuses (socket of the unix or vsock
// family, the terminal ioctls TIOCSTI and TIOCLINUX, io_uring_setup), or
// the zygote's launches would fail where a stage's work.
func TestZygotePlansNothingTheBaselineRefuses(t *testing.T) {
	if e := zygoteInit(); e != 0 {
		t.Skip(e)
	}
	work := t.TempDir()
	home, _ := os.UserHomeDir()
	c := &Config{Flags: FlagMountNS | FlagCaps | FlagIdentity | FlagScope | FlagPrivate | FlagLandlock | FlagHideReads,
		Dir: work, Argv: []string{"echo", "hi"}, Env: []string{"PATH=/usr/bin:/bin"},
		UID: 65534, GID: 65534, Private: []string{"/tmp", "/var/tmp", "/dev/shm", "/run"},
		Masked: []string{home + "/.ssh", home + "/.aws"}, HideRead: []string{home + "/.ssh"},
		Dirs: []string{work}, Sealed: []string{"/etc/hostname"}, Writable: []string{work},
		Seccomp: make([]byte, 8)}
	var fds []int
	for i := 0; i < ZygoteFDs; i++ {
		f, err := os.Open("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fds = append(fds, int(f.Fd()))
	}
	p, fallback, serr := planLaunch(c, fds)
	if fallback || serr != nil {
		t.Fatalf("planLaunch: fallback %v, %v", fallback, serr)
	}
	defer func() {
		for _, fd := range p.closeAfter {
			sysClose(fd)
		}
		p.wipe()
	}()
	maker := planMaker([]string{"/tmp", "/run"})
	defer maker.wipe()
	for name, ops := range map[string][]op{"launch": p.prog.ops, "maker": maker.prog.ops} {
		var calls int
		for _, o := range ops {
			if o.kind != opSys {
				continue
			}
			calls++
			switch {
			case (o.nr == nrSocket || o.nr == unix.SYS_SOCKETPAIR) && (uint32(o.a[0]) == unix.AF_UNIX && o.nr == nrSocket || uint32(o.a[0]) == unix.AF_VSOCK):
				t.Errorf("%s plans socket family %d", name, o.a[0])
			case o.nr == nrIoctl && (uint32(o.a[1]) == unix.TIOCSTI || uint32(o.a[1]) == unix.TIOCLINUX):
				t.Errorf("%s plans ioctl %#x", name, o.a[1])
			case o.nr == unix.SYS_IO_URING_SETUP:
				t.Errorf("%s plans io_uring_setup", name)
			}
		}
		if calls == 0 {
			t.Errorf("%s: no system call planned: the scan proves nothing", name)
		}
	}
}
