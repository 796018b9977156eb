//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// composeMount is where the composed jail is built, in the stage's own
// mount namespace (every mount there is already private: the host's /tmp
// is not touched); pivot_root then makes it the root, and the old root,
// this /tmp included, is detached.
const composeMount = "/tmp"

// composeDevices are the device files a composed jail gets, bound from the
// host's /dev (the ones SPEC 7.1a lets a child write, and the random
// sources).
var composeDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"}

// composeDevLinks are the links every /dev has (a script's interpreter is
// handed /dev/fd/N).
var composeDevLinks = []string{"/dev/fd", "/proc/self/fd", "/dev/stdin", "/proc/self/fd/0", "/dev/stdout", "/proc/self/fd/1", "/dev/stderr", "/proc/self/fd/2"}

const (
	oCreat = 0x40
	oExcl  = 0x80
)

// composeJail builds the jail that a configuration with enableChroot and no
// chrootDirectory asks for (SPEC 7.3), at composeMount:
//
//  1. every source is opened first (by descriptor, no symbolic link in any
//     component), so that covering /tmp cannot hide a working directory
//     that lies beneath it;
//  2. an empty tmpfs is the jail's root; each of c.ComposeRO is bound at
//     its own path, read-only (recursively); c.ComposeLinks are made;
//  3. /proc (the host's, bound, unless FlagProc mounts a fresh one later),
//     /sys (the host's, read-only; FlagSysfs replaces it), /dev (a few
//     device files bound, the /dev/fd links) and a private /tmp (TmpfsMB)
//     are made;
//  4. each of c.ComposeRW is bound at its own path, writable (read-only
//     under FlagReadOnly unless it is one of c.Writable);
//  5. the root tmpfs becomes read-only.
//
// Every failure is fatal: the target never runs in a half-built jail.
func composeJail(c *Config) *StepError {
	type source struct {
		path string
		fd   int
		rw   bool
	}
	var srcs []source
	defer func() {
		for _, s := range srcs {
			sysClose(s.fd)
		}
	}()
	open := func(p string, dir, rw, optional bool) *StepError {
		flags := oPath | oCLOEXEC
		if dir {
			flags |= oDirectory
		}
		fd, e := sysOpenNoSymlinks(p, flags)
		if e == eNOENT || (optional && e == eACCES) {
			return nil
		}
		if e != 0 {
			return mountErr(e, "open "+p+" for the composed jail (no symbolic links allowed)")
		}
		srcs = append(srcs, source{p, fd, rw})
		return nil
	}
	for _, p := range c.ComposeRO {
		if err := open(p, true, false, false); err != nil {
			return err
		}
	}
	nRO := len(srcs)
	var dev []source
	for _, p := range composeDevices {
		if err := open(p, false, true, true); err != nil {
			return err
		}
	}
	dev, srcs = srcs[nRO:], srcs[:nRO:nRO]
	defer func() {
		for _, d := range dev {
			sysClose(d.fd)
		}
	}()
	var proc, sys source
	proc.fd, sys.fd = -1, -1
	if c.Flags&FlagProc == 0 {
		fd, e := sysOpen("/proc", oPath|oCLOEXEC|oDirectory)
		if e != 0 {
			return mountErr(e, "open /proc for the composed jail")
		}
		proc = source{"/proc", fd, false}
		defer sysClose(fd)
	}
	if fd, e := sysOpen("/sys", oPath|oCLOEXEC|oDirectory); e == 0 {
		sys = source{"/sys", fd, false}
		defer sysClose(fd)
	}
	for _, p := range c.ComposeRW {
		rw := c.Flags&FlagReadOnly == 0 || inList(p, c.Writable)
		// A working directory that does not exist (yet) is skipped:
		// entering it fails later with its own error.
		if err := open(p, true, rw, true); err != nil {
			return err
		}
	}

	m := composeMount
	if e := sysMount("tmpfs", m, "tmpfs", msNosuid|msNodev, "mode=0755"); e != 0 {
		return mountErr(e, "mount the composed jail's root tmpfs on "+m)
	}
	ro := mountAttr{set: mountAttrRO}
	bind := func(s source, dir bool) *StepError {
		target := m + s.path
		if dir {
			if e := mkdirAll(target); e != 0 {
				return mountErr(e, "make the mount point "+target)
			}
		} else if e := mkFile(target); e != 0 {
			return mountErr(e, "make the mount point "+target)
		}
		if e := sysMount("/proc/self/fd/"+utoa(uint64(s.fd)), target, "", msBind|msRec, ""); e != 0 {
			return mountErr(e, "bind "+s.path+" into the composed jail")
		}
		if !s.rw {
			if e := sysMountSetattr(target, atRecursive, &ro); e != 0 {
				return mountErr(e, "make "+target+" read-only (mount_setattr, Linux 5.12+)")
			}
		}
		return nil
	}
	for _, s := range srcs[:nRO] {
		if err := bind(s, true); err != nil {
			return err
		}
	}
	for i := 0; i+1 < len(c.ComposeLinks); i += 2 {
		if e := symlink(c.ComposeLinks[i+1], m+c.ComposeLinks[i]); e != 0 && e != eEXIST {
			return mountErr(e, "make the link "+c.ComposeLinks[i]+" in the composed jail")
		}
	}
	if proc.fd >= 0 {
		if err := bind(proc, true); err != nil {
			return err
		}
	} else if e := mkdirAll(m + "/proc"); e != 0 {
		return mountErr(e, "make "+m+"/proc")
	}
	if sys.fd >= 0 {
		if err := bind(sys, true); err != nil {
			return err
		}
	}
	if e := mkdirAll(m + "/dev/shm"); e != 0 {
		return mountErr(e, "make "+m+"/dev/shm")
	}
	for _, d := range dev {
		if err := bind(d, false); err != nil {
			return err
		}
	}
	for i := 0; i+1 < len(composeDevLinks); i += 2 {
		if e := symlink(composeDevLinks[i+1], m+composeDevLinks[i]); e != 0 {
			return mountErr(e, "make the link "+composeDevLinks[i]+" in the composed jail")
		}
	}
	opts := "mode=1777"
	if c.TmpfsMB > 0 {
		opts += ",size=" + utoa(c.TmpfsMB) + "m"
	}
	if e := mkdirAll(m + "/tmp"); e != 0 {
		return mountErr(e, "make "+m+"/tmp")
	}
	if e := sysMount("tmpfs", m+"/tmp", "tmpfs", msNosuid|msNodev, opts); e != 0 {
		return mountErr(e, "mount a private tmpfs on the composed jail's /tmp")
	}
	for _, s := range srcs[nRO:] {
		if err := bind(s, true); err != nil {
			return err
		}
	}
	if e := sysMountSetattr(m, 0, &ro); e != 0 {
		return mountErr(e, "make the composed jail's root read-only")
	}
	return nil
}

// inList reports whether p is one of l.
func inList(p string, l []string) bool {
	for _, s := range l {
		if s == p {
			return true
		}
	}
	return false
}

// mkFile creates an empty file at p (a mount point for a device file).
func mkFile(p string) uintptr {
	b := cstring(p)
	fd, e := rawSyscall6(nrOpenat, atFDCWD, uintptr(unsafe.Pointer(&b[0])), oCreat|oExcl|oWronly|oCLOEXEC, 0o644, 0, 0)
	runtime.KeepAlive(b)
	if e == 0 {
		sysClose(int(fd))
	}
	return e
}

// symlink makes the symbolic link p pointing to target.
func symlink(target, p string) uintptr {
	t, b := cstring(target), cstring(p)
	_, e := rawSyscall6(nrSymlinkat, uintptr(unsafe.Pointer(&t[0])), atFDCWD, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
	runtime.KeepAlive(t)
	runtime.KeepAlive(b)
	return e
}
