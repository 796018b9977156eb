//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

func sysMount(src, target, fstype string, flags uintptr, data string) uintptr {
	var ps, pt, pf, pd *byte
	if src != "" {
		ps = &cstring(src)[0]
	}
	pt = &cstring(target)[0]
	if fstype != "" {
		pf = &cstring(fstype)[0]
	}
	if data != "" {
		pd = &cstring(data)[0]
	}
	_, e := rawSyscall6(nrMount, uintptr(unsafe.Pointer(ps)), uintptr(unsafe.Pointer(pt)),
		uintptr(unsafe.Pointer(pf)), flags, uintptr(unsafe.Pointer(pd)), 0)
	runtime.KeepAlive(ps)
	runtime.KeepAlive(pt)
	runtime.KeepAlive(pf)
	runtime.KeepAlive(pd)
	return e
}

// mountAttr is struct mount_attr (mount_setattr(2), Linux 5.12).
type mountAttr struct {
	set, clr, propagation, userns uint64
}

func sysMountSetattr(path string, flags uintptr, attr *mountAttr) uintptr {
	p := cstring(path)
	_, e := rawSyscall6(nrMountSetattr, atFDCWD, uintptr(unsafe.Pointer(&p[0])), flags,
		uintptr(unsafe.Pointer(attr)), unsafe.Sizeof(*attr), 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(attr)
	return e
}

func mountErr(e uintptr, detail string) *StepError {
	return &StepError{Step: StepMounts, Errno: e, Detail: detail}
}

// join returns root+p for an absolute p ("/" root: p).
func join(root, p string) string {
	if root == "" || root == "/" {
		return p
	}
	if p == "/" {
		return root
	}
	return root + p
}

// setupMounts prepares the filesystem the target sees, in the stage's own
// mount namespace: everything private (nothing propagates back to the
// host), the root (prepareRoot), the read-only filesystem with its private
// /tmp and writable paths (readOnlyTree), the private view (setupPrivate),
// a fresh /proc for a new PID namespace, a fresh sysfs, and the new root.
func setupMounts(c *Config) *StepError {
	if c.Flags&FlagMountNS == 0 {
		return nil
	}
	if e := sysMount("", "/", "", msRec|msPrivate, ""); e != 0 {
		return mountErr(e, "make every mount private")
	}
	root, err := prepareRoot(c)
	if err != nil {
		return err
	}
	if c.Flags&FlagReadOnly != 0 && c.Flags&FlagCompose == 0 { // a composed jail is read-only already
		if err := readOnlyTree(c, root); err != nil {
			return err
		}
	}
	if err := setupPrivate(c, root); err != nil {
		return err
	}
	if c.Flags&FlagProc != 0 {
		proc := join(root, "/proc")
		if e := sysMount("proc", proc, "proc", msNosuid|msNoexec|msNodev, ""); e != 0 {
			return mountErr(e, "mount a fresh /proc on "+proc)
		}
	}
	if c.Flags&FlagSysfs != 0 {
		if err := mountSysfs(join(root, "/sys")); err != nil {
			return err
		}
	}
	if root != "/" {
		return enterRoot(root)
	}
	return nil
}

// prepareRoot returns the directory that becomes the target's root: the
// composed jail (FlagCompose: composeJail builds it), c.Root made a mount
// point of its own (so that pivot_root can use it), or "/".
func prepareRoot(c *Config) (string, *StepError) {
	if c.Flags&FlagCompose != 0 {
		if err := composeJail(c); err != nil {
			return "", err
		}
		return composeMount, nil
	}
	if c.Root == "" {
		return "/", nil
	}
	if e := sysMount(c.Root, c.Root, "", msBind|msRec, ""); e != 0 {
		return "", mountErr(e, "bind the jail "+c.Root+" onto itself")
	}
	return c.Root, nil
}

// readOnlyTree makes every mount under root read-only except c.Writable,
// and gives root a private /tmp (FlagReadOnly): the writable paths become
// mounts of their own first (bindWritable), so that they can be made
// writable again (reopenWritable) after the recursive read-only pass.
func readOnlyTree(c *Config, root string) *StepError {
	if err := bindWritable(c, root); err != nil {
		return err
	}
	ro := mountAttr{set: mountAttrRO}
	if e := sysMountSetattr(root, atRecursive, &ro); e != 0 {
		return mountErr(e, "make every mount under "+root+" read-only (mount_setattr, Linux 5.12+)")
	}
	if err := reopenWritable(c, root); err != nil {
		return err
	}
	return privateTmp(c, root)
}

// bindWritable binds each of c.Writable (as seen in root) onto itself. By
// descriptor, no symbolic link in any component: a link planted by an
// earlier child cannot redirect the writable bind.
func bindWritable(c *Config, root string) *StepError {
	for _, w := range c.Writable {
		p := join(root, w)
		fd, e := sysOpenNoSymlinks(p, oPath|oCLOEXEC)
		if e != 0 {
			return mountErr(e, "open the writable path "+p+" (no symbolic links allowed)")
		}
		at := "/proc/self/fd/" + utoa(uint64(fd))
		e = sysMount(at, at, "", msBind|msRec, "")
		sysClose(fd)
		if e != 0 {
			return mountErr(e, "bind the writable path "+p+" onto itself")
		}
	}
	return nil
}

// reopenWritable clears the read-only flag of each of c.Writable's mounts,
// recursively.
func reopenWritable(c *Config, root string) *StepError {
	rw := mountAttr{clr: mountAttrRO}
	for _, w := range c.Writable {
		p := join(root, w)
		fd, e := sysOpenNoSymlinks(p, oPath|oCLOEXEC)
		if e != 0 {
			return mountErr(e, "open the writable path "+p+" (no symbolic links allowed)")
		}
		e = sysMountSetattr("/proc/self/fd/"+utoa(uint64(fd)), atRecursive, &rw)
		sysClose(fd)
		if e != 0 {
			return mountErr(e, "make the writable path "+p+" writable again")
		}
	}
	return nil
}

// privateTmp mounts a private tmpfs (c.TmpfsMB) on root's /tmp. The working
// directory, kept and writable paths beneath /tmp (a project in mktemp -d)
// are bound back over the new tmpfs, as they were (read-only or writable):
// covering them would leave the launch without its working directory.
func privateTmp(c *Config, root string) *StepError {
	tmp := join(root, "/tmp")
	kept, err := openBeneath(StepMounts, root, []string{"/tmp"}, append(append(append([]string(nil), c.Keep...), c.Writable...), c.Dir))
	defer closeKept(kept)
	if err != nil {
		return err
	}
	if e := sysMount("tmpfs", tmp, "tmpfs", msNosuid|msNodev, tmpOptions(c)); e != 0 {
		return mountErr(e, "mount a private tmpfs on "+tmp)
	}
	return bindBack(StepMounts, kept)
}

// tmpOptions are the mount options of a launch's private /tmp: mode 1777,
// c.TmpfsMB megabytes (0: the kernel's default size).
func tmpOptions(c *Config) string {
	opts := "mode=1777"
	if c.TmpfsMB > 0 {
		opts += ",size=" + utoa(c.TmpfsMB) + "m"
	}
	return opts
}

// Filesystem magic numbers (statfs f_type).
const (
	sysfsMagic = 0x62656572
)

// fstatfsType is the filesystem type (f_type) of fd.
func fstatfsType(fd int) (uint64, uintptr) {
	var buf [256]byte // struct statfs: 120 bytes on amd64 and arm64; f_type first
	_, e := rawSyscall6(nrFstatfs, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&buf)
	if e != 0 {
		return 0, e
	}
	var t uint64
	for i := 7; i >= 0; i-- { // little-endian (amd64, arm64)
		t = t<<8 | uint64(buf[i])
	}
	return t, 0
}

// mountSysfs puts a fresh sysfs, mounted from inside the child's network
// namespace, over sys: its /sys/class/net and /sys/devices/*/net list that
// namespace's interfaces only (lo), not the host's. It is read-only,
// nosuid, nodev, noexec, and hides everything mounted beneath the host's
// /sys (debugfs, tracefs, bpffs, configfs, securityfs, efivarfs). The host's
// /sys/fs/cgroup, if it is mounted, is bound back read-only, so that
// programs still find their cgroup's limits (JVMs, Node and Go size
// themselves by them).
//
// Where sys is not the kernel's sysfs (a jail with no /sys, or an empty
// directory) nothing of the host shows through it, and it is left alone.
// Where the kernel refuses the mount (a user namespace on a host whose own
// /sys is partly covered: "mount too revealing"), an empty read-only tmpfs
// goes over sys instead, so the host's interfaces are hidden all the same
// (without the cgroup files). If that fails too, the launch fails.
func mountSysfs(sys string) *StepError {
	fd, e := sysOpenNoSymlinks(sys, oPath|oCLOEXEC|oDIRECTORY)
	if e == eNOENT {
		return nil
	}
	if e != 0 {
		return mountErr(e, "open "+sys+" (no symbolic links allowed)")
	}
	defer sysClose(fd)
	t, e := fstatfsType(fd)
	if e != 0 {
		return mountErr(e, "statfs "+sys)
	}
	if t != sysfsMagic {
		return nil
	}
	// The host's cgroup mount, opened before the fresh sysfs covers it.
	cg := -1
	if c, e := sysOpenNoSymlinks(sys+"/fs/cgroup", oPath|oCLOEXEC|oDIRECTORY); e == 0 {
		if ct, e := fstatfsType(c); e == 0 && ct != sysfsMagic {
			cg = c
		} else {
			sysClose(c)
		}
	}
	if cg >= 0 {
		defer sysClose(cg)
	}
	at := "/proc/self/fd/" + utoa(uint64(fd))
	flags := uintptr(msRdonly | msNosuid | msNodev | msNoexec)
	if e := sysMount("sysfs", at, "sysfs", flags, ""); e != 0 {
		if e2 := sysMount("tmpfs", at, "tmpfs", flags, "mode=0555,size=4k"); e2 != 0 {
			return mountErr(e, "mount a fresh sysfs on "+sys+" for the network namespace (an empty tmpfs instead failed too: errno "+utoa(uint64(e2))+")")
		}
		return nil
	}
	if cg < 0 {
		return nil
	}
	target := sys + "/fs/cgroup"
	if e := sysMount("/proc/self/fd/"+utoa(uint64(cg)), target, "", msBind|msRec, ""); e != 0 {
		return nil // the fresh sysfs stays; only the cgroup files are missing
	}
	ro := mountAttr{set: mountAttrRO}
	if e := sysMountSetattr(target, atRecursive, &ro); e != 0 {
		// Read-only or not at all: without mount_setattr (Linux < 5.12)
		// the child gets no cgroup files rather than writable ones.
		dot := cstring(target)
		rawSyscall6(nrUmount2, uintptr(unsafe.Pointer(&dot[0])), mntDetach, 0, 0, 0, 0)
		runtime.KeepAlive(dot)
	}
	return nil
}

// enterRoot makes root the root directory: pivot_root(".", ".") stacks the
// old root on the new one, and detaching it leaves nothing of the host
// reachable (the trick needs no put_old directory, so it works in a
// read-only jail). Where pivot_root is refused, chroot.
func enterRoot(root string) *StepError {
	if e := sysChdir(root); e != 0 {
		return mountErr(e, "chdir into the jail "+root)
	}
	dot := cstring(".")
	_, e := rawSyscall6(nrPivotRoot, uintptr(unsafe.Pointer(&dot[0])), uintptr(unsafe.Pointer(&dot[0])), 0, 0, 0, 0)
	if e == 0 {
		_, e = rawSyscall6(nrUmount2, uintptr(unsafe.Pointer(&dot[0])), mntDetach, 0, 0, 0, 0)
		runtime.KeepAlive(dot)
		if e != 0 {
			return mountErr(e, "detach the old root")
		}
	} else {
		_, e = rawSyscall6(nrChroot, uintptr(unsafe.Pointer(&dot[0])), 0, 0, 0, 0, 0)
		runtime.KeepAlive(dot)
		if e != 0 {
			return mountErr(e, "chroot "+root)
		}
	}
	if e := sysChdir("/"); e != 0 {
		return mountErr(e, "chdir / in the jail")
	}
	return nil
}

// keptPath is a directory opened (O_PATH) before the directory above it is
// covered by a new mount, to be bound back at its path.
type keptPath struct {
	path string
	fd   int
}

// openBeneath opens, by descriptor and with no symbolic link in any
// component, each of paths (as seen in root) that is one of dirs or lies
// beneath one; one that does not exist, or that the stage may not search,
// is skipped (nothing to keep, or nothing the child could use: entering the
// working directory then fails with its own error). A failure is reported
// as step's.
func openBeneath(step, root string, dirs, paths []string) ([]keptPath, *StepError) {
	var kept []keptPath
	for _, k := range paths {
		if k == "" || !beneathAny(k, dirs) {
			continue
		}
		p := join(root, k)
		fd, e := sysOpenNoSymlinks(p, oPath|oCLOEXEC|oDirectory)
		if e == eNOENT || e == eACCES {
			continue
		}
		if e != 0 {
			return kept, &StepError{Step: step, Errno: e, Detail: "open " + p + " to keep it (no symbolic links allowed)"}
		}
		kept = append(kept, keptPath{p, int(fd)})
	}
	return kept, nil
}

// bindBack binds each kept directory at its path again, recursively; a
// failure is reported as step's.
func bindBack(step string, kept []keptPath) *StepError {
	for _, k := range kept {
		if e := mkdirAll(k.path); e != 0 {
			return &StepError{Step: step, Errno: e, Detail: "make the mount point " + k.path}
		}
		if e := sysMount("/proc/self/fd/"+utoa(uint64(k.fd)), k.path, "", msBind|msRec, ""); e != 0 {
			return &StepError{Step: step, Errno: e, Detail: "bind " + k.path + " back"}
		}
	}
	return nil
}

// closeKept closes the descriptors of kept.
func closeKept(kept []keptPath) {
	for _, k := range kept {
		sysClose(k.fd)
	}
}
