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
//     that lies beneath it (composeSources.open);
//  2. an empty tmpfs is the jail's root; each of c.ComposeRO is bound at
//     its own path, read-only (recursively); c.ComposeLinks are made;
//     /proc (the host's, bound, unless FlagProc mounts a fresh one later)
//     and /sys (the host's, read-only; FlagSysfs replaces it) are bound
//     (composeTree);
//  3. /dev (a few device files bound, the /dev/fd links: composeDev) and a
//     private /tmp (TmpfsMB: composeTmp) are made;
//  4. each of c.ComposeRW is bound at its own path, writable (read-only
//     under FlagReadOnly unless it is one of c.Writable);
//  5. the root tmpfs becomes read-only.
//
// Every failure is fatal: the target never runs in a half-built jail.
func composeJail(c *Config) *StepError {
	s := composeSources{proc: composeSource{fd: -1}, sys: composeSource{fd: -1}}
	defer s.close()
	if err := s.open(c); err != nil {
		return err
	}
	m := composeMount
	if e := sysMount("tmpfs", m, "tmpfs", msNosuid|msNodev, "mode=0755"); e != 0 {
		return mountErr(e, "mount the composed jail's root tmpfs on "+m)
	}
	if err := s.composeTree(c); err != nil {
		return err
	}
	if err := s.composeDev(); err != nil {
		return err
	}
	if err := composeTmp(c); err != nil {
		return err
	}
	if err := bindComposedAll(s.rw, true); err != nil {
		return err
	}
	ro := mountAttr{set: mountAttrRO}
	if e := sysMountSetattr(m, 0, &ro); e != 0 {
		return mountErr(e, "make the composed jail's root read-only")
	}
	return nil
}

// composeSource is one path bound into the composed jail, opened (O_PATH)
// before anything is mounted; rw: left writable.
type composeSource struct {
	path string
	fd   int
	rw   bool
}

// composeSources are the descriptors composeJail binds: c.ComposeRO, the
// device files, /proc and /sys (fd -1: not bound), c.ComposeRW.
type composeSources struct {
	ro, dev, rw []composeSource
	proc, sys   composeSource
}

// open opens every source, in the order c lists them: c.ComposeRO (each
// must exist), composeDevices, /proc (unless FlagProc), /sys, c.ComposeRW.
// A source that does not exist is skipped (a working directory that does
// not exist yet fails later with its own error), as is an optional one
// (a device file, c.ComposeRW) the stage may not open.
func (s *composeSources) open(c *Config) *StepError {
	for _, p := range c.ComposeRO {
		if err := openComposed(&s.ro, p, true, false, false); err != nil {
			return err
		}
	}
	for _, p := range composeDevices {
		if err := openComposed(&s.dev, p, false, true, true); err != nil {
			return err
		}
	}
	if c.Flags&FlagProc == 0 {
		fd, e := sysOpen("/proc", oPath|oCLOEXEC|oDirectory)
		if e != 0 {
			return mountErr(e, "open /proc for the composed jail")
		}
		s.proc = composeSource{"/proc", fd, false}
	}
	if fd, e := sysOpen("/sys", oPath|oCLOEXEC|oDirectory); e == 0 {
		s.sys = composeSource{"/sys", fd, false}
	}
	for _, p := range c.ComposeRW {
		rw := c.Flags&FlagReadOnly == 0 || inList(p, c.Writable)
		if err := openComposed(&s.rw, p, true, rw, true); err != nil {
			return err
		}
	}
	return nil
}

// openComposed opens p without following a symbolic link in any component
// and appends it to l; a p that does not exist (or, optional, that the
// stage may not open) is left out.
func openComposed(l *[]composeSource, p string, dir, rw, optional bool) *StepError {
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
	*l = append(*l, composeSource{p, fd, rw})
	return nil
}

// close closes every descriptor s holds.
func (s *composeSources) close() {
	for _, l := range [][]composeSource{s.ro, s.dev, s.rw} {
		for _, x := range l {
			sysClose(x.fd)
		}
	}
	for _, fd := range []int{s.proc.fd, s.sys.fd} {
		if fd >= 0 {
			sysClose(fd)
		}
	}
}

// composeTree binds the read-only tree into the jail's root: c.ComposeRO,
// c.ComposeLinks, /proc (or its mount point, for FlagProc's fresh one) and
// /sys.
func (s *composeSources) composeTree(c *Config) *StepError {
	m := composeMount
	if err := bindComposedAll(s.ro, true); err != nil {
		return err
	}
	for i := 0; i+1 < len(c.ComposeLinks); i += 2 {
		if e := symlink(c.ComposeLinks[i+1], m+c.ComposeLinks[i]); e != 0 && e != eEXIST {
			return mountErr(e, "make the link "+c.ComposeLinks[i]+" in the composed jail")
		}
	}
	if s.proc.fd >= 0 {
		if err := bindComposed(s.proc, true); err != nil {
			return err
		}
	} else if e := mkdirAll(m + "/proc"); e != 0 {
		return mountErr(e, "make "+m+"/proc")
	}
	if s.sys.fd >= 0 {
		return bindComposed(s.sys, true)
	}
	return nil
}

// composeDev makes the jail's /dev: /dev/shm, the device files bound from
// the host's, the composeDevLinks.
func (s *composeSources) composeDev() *StepError {
	m := composeMount
	if e := mkdirAll(m + "/dev/shm"); e != 0 {
		return mountErr(e, "make "+m+"/dev/shm")
	}
	if err := bindComposedAll(s.dev, false); err != nil {
		return err
	}
	for i := 0; i+1 < len(composeDevLinks); i += 2 {
		if e := symlink(composeDevLinks[i+1], m+composeDevLinks[i]); e != 0 {
			return mountErr(e, "make the link "+composeDevLinks[i]+" in the composed jail")
		}
	}
	return nil
}

// composeTmp mounts the jail's private /tmp (c.TmpfsMB, 0: the kernel's
// default size).
func composeTmp(c *Config) *StepError {
	m := composeMount
	if e := mkdirAll(m + "/tmp"); e != 0 {
		return mountErr(e, "make "+m+"/tmp")
	}
	if e := sysMount("tmpfs", m+"/tmp", "tmpfs", msNosuid|msNodev, tmpOptions(c)); e != 0 {
		return mountErr(e, "mount a private tmpfs on the composed jail's /tmp")
	}
	return nil
}

// bindComposedAll binds each of l (directories, or files: dir false).
func bindComposedAll(l []composeSource, dir bool) *StepError {
	for _, s := range l {
		if err := bindComposed(s, dir); err != nil {
			return err
		}
	}
	return nil
}

// bindComposed binds s at its own path in the jail, on a mount point it
// makes (a directory, or an empty file: dir false), read-only (recursively)
// unless s.rw.
func bindComposed(s composeSource, dir bool) *StepError {
	target := composeMount + s.path
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
		ro := mountAttr{set: mountAttrRO}
		if e := sysMountSetattr(target, atRecursive, &ro); e != 0 {
			return mountErr(e, "make "+target+" read-only (mount_setattr, Linux 5.12+)")
		}
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
