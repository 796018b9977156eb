//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// The isolation steps of contain(). The namespaces themselves are created
// by the launcher when it clones the stage (clone flags, user namespace
// maps); these functions do what must happen inside them. Every function
// runs on the stage's main thread (the runtime keeps the main goroutine
// there during package initialisation), which is the thread that execs:
// per-thread attributes (capabilities, no_new_privs, Landlock domain,
// seccomp filter, LSM exec attribute) set here are the target's.

const (
	msRdonly    = 0x1
	msNosuid    = 0x2
	msNodev     = 0x4
	msNoexec    = 0x8
	msRemount   = 0x20
	msBind      = 0x1000
	msRec       = 0x4000
	msPrivate   = 1 << 18
	mntDetach   = 2
	atRecursive = 0x8000
	mountAttrRO = 0x1
	oPath       = 0x200000
	oWronly     = 0x1

	prCapbsetDrop     = 24
	prSetNoNewPrivs   = 38
	prCapAmbient      = 47
	prCapAmbientRaise = 2
	prCapAmbientClear = 4
	capSetpcap        = 8
	prSetPdeathsig    = 1
	prSetDumpable     = 4
	prSetKeepcaps     = 8
	sigKILL           = 9
	capVersion3       = 0x20080522

	afInet       = 2
	sockDgram    = 2
	sockCloexec  = 0x80000
	siocgifflags = 0x8913
	siocsifflags = 0x8914
	iffUp        = 0x1

	seccompSetModeFilter = 1

	landlockCreateRulesetVersion = 1
	landlockRulePathBeneath      = 1
)

// openMAC opens the LSM's exec attribute early, while /proc is the
// stage's (a chroot may have none); the value is written later.
func openMAC(c *Config) (int, *StepError) {
	if c.MACPath == "" {
		return -1, nil
	}
	fd, e := sysOpen(c.MACPath, oWronly|oCLOEXEC)
	if e != 0 {
		return -1, &StepError{Step: StepMAC, Errno: e, Detail: "open " + c.MACPath}
	}
	return fd, nil
}

// applyMAC writes the profile / context the exec switches to.
func applyMAC(fd int, c *Config) *StepError {
	if fd < 0 {
		return nil
	}
	b := []byte(c.MACValue)
	n, e := sysWrite(fd, b)
	sysClose(fd)
	if e != 0 || n != len(b) {
		return &StepError{Step: StepMAC, Errno: e, Detail: "write " + c.MACValue + " to " + c.MACPath}
	}
	return nil
}

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
// host), then a fresh /proc for a new PID namespace, the read-only
// filesystem with its private /tmp and writable paths, and the new root.
func setupMounts(c *Config) *StepError {
	if c.Flags&FlagMountNS == 0 {
		return nil
	}
	if e := sysMount("", "/", "", msRec|msPrivate, ""); e != 0 {
		return mountErr(e, "make every mount private")
	}
	root := "/"
	if c.Flags&FlagCompose != 0 {
		if err := composeJail(c); err != nil {
			return err
		}
		root = composeMount
	} else if c.Root != "" {
		root = c.Root
		// A mount point of its own, so that pivot_root can use it.
		if e := sysMount(root, root, "", msBind|msRec, ""); e != 0 {
			return mountErr(e, "bind the jail "+root+" onto itself")
		}
	}
	if c.Flags&FlagReadOnly != 0 && c.Flags&FlagCompose == 0 { // a composed jail is read-only already
		// Writable paths become mounts of their own first, so that they
		// can be made writable again after the recursive read-only pass.
		for _, w := range c.Writable {
			p := join(root, w)
			// By descriptor, no symbolic link in any component: a link
			// planted by an earlier child cannot redirect the writable bind.
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
		ro := mountAttr{set: mountAttrRO}
		if e := sysMountSetattr(root, atRecursive, &ro); e != 0 {
			return mountErr(e, "make every mount under "+root+" read-only (mount_setattr, Linux 5.12+)")
		}
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
		opts := "mode=1777"
		if c.TmpfsMB > 0 {
			opts += ",size=" + utoa(c.TmpfsMB) + "m"
		}
		tmp := join(root, "/tmp")
		if e := sysMount("tmpfs", tmp, "tmpfs", msNosuid|msNodev, opts); e != 0 {
			return mountErr(e, "mount a private tmpfs on "+tmp)
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

// setHostname names the new UTS namespace.
func setHostname(c *Config) *StepError {
	if c.Hostname == "" {
		return nil
	}
	b := []byte(c.Hostname)
	_, e := rawSyscall6(nrSethostname, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0, 0)
	runtime.KeepAlive(b)
	if e != 0 {
		return &StepError{Step: StepHostname, Errno: e, Detail: "sethostname " + c.Hostname}
	}
	return nil
}

// ifreq is struct ifreq as SIOCGIFFLAGS/SIOCSIFFLAGS use it.
type ifreq struct {
	name  [16]byte
	flags uint16
	_     [22]byte
}

// raiseLoopback brings lo up in the new network namespace (it starts down).
func raiseLoopback(c *Config) *StepError {
	if c.Flags&FlagLoopback == 0 {
		return nil
	}
	s, e := rawSyscall6(nrSocket, afInet, sockDgram|sockCloexec, 0, 0, 0, 0)
	if e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "socket"}
	}
	defer sysClose(int(s))
	var r ifreq
	copy(r.name[:], "lo")
	if _, e := rawSyscall6(nrIoctl, s, siocgifflags, uintptr(unsafe.Pointer(&r)), 0, 0, 0); e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "SIOCGIFFLAGS lo"}
	}
	r.flags |= iffUp
	if _, e := rawSyscall6(nrIoctl, s, siocsifflags, uintptr(unsafe.Pointer(&r)), 0, 0, 0); e != 0 {
		return &StepError{Step: StepLoopback, Errno: e, Detail: "SIOCSIFFLAGS lo up"}
	}
	runtime.KeepAlive(&r)
	return nil
}

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct {
	effective, permitted, inheritable uint32
}

// setCaps leaves the target exactly the capabilities of c.CapKeep that the
// stage has: everything else leaves the bounding set (when the stage holds
// CAP_SETPCAP, as a root server's or a user namespace's stage does; without
// it the stage has no capability to give anyway, and no_new_privs keeps
// execve from granting any), the ambient set is cleared, then effective,
// permitted and inheritable are set to the kept ones, which are raised in
// the ambient set so that they survive execve for any uid.
func setCaps(c *Config) *StepError {
	if c.Flags&FlagCaps == 0 {
		return nil
	}
	d, e := capGet()
	if e != 0 {
		return &StepError{Step: StepCaps, Errno: e, Detail: "capget"}
	}
	eff := uint64(d[0].effective) | uint64(d[1].effective)<<32
	perm := uint64(d[0].permitted) | uint64(d[1].permitted)<<32
	if eff&(1<<capSetpcap) != 0 {
		for cp := uintptr(0); cp < 64; cp++ {
			if c.CapKeep&(1<<cp) != 0 {
				continue
			}
			if _, e := rawSyscall6(nrPrctl, prCapbsetDrop, cp, 0, 0, 0, 0); e != 0 {
				if e == eINVAL {
					break // past the kernel's last capability
				}
				return &StepError{Step: StepCaps, Errno: e, Detail: "drop capability " + utoa(uint64(cp)) + " from the bounding set"}
			}
		}
	}
	if _, e := rawSyscall6(nrPrctl, prCapAmbient, prCapAmbientClear, 0, 0, 0, 0); e != 0 && e != eINVAL {
		return &StepError{Step: StepCaps, Errno: e, Detail: "clear the ambient set"}
	}
	keep := c.CapKeep & perm
	for i := range d {
		v := uint32(keep >> (32 * i))
		d[i] = capData{effective: v, permitted: v, inheritable: v}
	}
	if e := capSet(d); e != 0 {
		return &StepError{Step: StepCaps, Errno: e, Detail: "capset"}
	}
	for cp := uintptr(0); cp < 64; cp++ {
		if keep&(1<<cp) == 0 {
			continue
		}
		if _, e := rawSyscall6(nrPrctl, prCapAmbient, prCapAmbientRaise, cp, 0, 0, 0); e != 0 {
			return &StepError{Step: StepCaps, Errno: e, Detail: "raise capability " + utoa(uint64(cp)) + " in the ambient set"}
		}
	}
	return nil
}

// setIdentity makes the stage the target's user: no supplementary groups,
// GID, then UID (real, effective and saved). The permitted capabilities
// survive the change of uid (PR_SET_KEEPCAPS) and are made effective again,
// so that setCaps can still shape the bounding and ambient sets; setCaps
// then keeps only CapKeep, through the ambient set, since the target is no
// longer uid 0. The kernel clears the parent-death signal when the uid
// changes: it is set again, and if the launcher is already gone the stage
// exits rather than run a target nobody would kill.
func setIdentity(c *Config) *StepError {
	if c.Flags&FlagIdentity == 0 {
		return nil
	}
	ppid, _ := rawSyscall6(nrGetppid, 0, 0, 0, 0, 0, 0)
	if _, e := rawSyscall6(nrPrctl, prSetKeepcaps, 1, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_KEEPCAPS)"}
	}
	if _, e := rawSyscall6(nrSetgroups, 0, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "clear the supplementary groups"}
	}
	g, u := uintptr(c.GID), uintptr(c.UID)
	if _, e := rawSyscall6(nrSetresgid, g, g, g, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "setresgid " + utoa(uint64(c.GID))}
	}
	if _, e := rawSyscall6(nrSetresuid, u, u, u, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "setresuid " + utoa(uint64(c.UID))}
	}
	if _, e := rawSyscall6(nrPrctl, prSetKeepcaps, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_KEEPCAPS, 0)"}
	}
	if _, e := rawSyscall6(nrPrctl, prSetPdeathsig, sigKILL, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "prctl(PR_SET_PDEATHSIG)"}
	}
	if now, _ := rawSyscall6(nrGetppid, 0, 0, 0, 0, 0, 0); now != ppid {
		return &StepError{Step: StepIdentity, Detail: "the launcher went away"}
	}
	// Effective = permitted again (the uid change emptied the effective set).
	d, e := capGet()
	if e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "capget"}
	}
	for i := range d {
		d[i].effective = d[i].permitted
	}
	if e := capSet(d); e != 0 {
		return &StepError{Step: StepIdentity, Errno: e, Detail: "capset"}
	}
	return nil
}

// capGet returns the calling thread's capability sets (capget, version 3).
func capGet() ([2]capData, uintptr) {
	h := capHeader{version: capVersion3}
	var d [2]capData
	_, e := rawSyscall6(nrCapget, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&d[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&h)
	runtime.KeepAlive(&d)
	return d, e
}

// capSet sets the calling thread's capability sets (capset, version 3).
func capSet(d [2]capData) uintptr {
	h := capHeader{version: capVersion3}
	_, e := rawSyscall6(nrCapset, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&d[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&h)
	runtime.KeepAlive(&d)
	return e
}

// setNoNewPrivs: execve never grants privileges again (setuid bits and
// file capabilities are inert). Every launch, whatever the config.
func setNoNewPrivs(*Config) *StepError {
	if _, e := rawSyscall6(nrPrctl, prSetNoNewPrivs, 1, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepNoNewPrivs, Errno: e, Detail: "prctl(PR_SET_NO_NEW_PRIVS)"}
	}
	return nil
}

// Landlock filesystem rights (linux/landlock.h).
const (
	llWriteFile  = 1 << 1
	llRemoveDir  = 1 << 4
	llRemoveFile = 1 << 5
	llMakeChar   = 1 << 6
	llMakeDir    = 1 << 7
	llMakeReg    = 1 << 8
	llMakeSock   = 1 << 9
	llMakeFifo   = 1 << 10
	llMakeBlock  = 1 << 11
	llMakeSym    = 1 << 12
	llRefer      = 1 << 13 // ABI 2
	llTruncate   = 1 << 14 // ABI 3
)

// LandlockWriteRights are the write rights handled at Landlock ABI abi
// (reads and executes are never restricted).
func LandlockWriteRights(abi int) uint64 {
	r := uint64(llWriteFile | llRemoveDir | llRemoveFile | llMakeChar | llMakeDir | llMakeReg |
		llMakeSock | llMakeFifo | llMakeBlock | llMakeSym)
	if abi >= 2 {
		r |= llRefer
	}
	if abi >= 3 {
		r |= llTruncate
	}
	return r
}

// landlockDevices are device files any program may open for writing.
var landlockDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom",
	"/dev/ptmx", "/dev/pts", "/dev/shm"}

// restrictLandlock confines writes to the working directory, /tmp, the
// writable paths and the harmless devices; reads stay allowed everywhere.
func restrictLandlock(c *Config) *StepError {
	if c.Flags&FlagLandlock == 0 {
		return nil
	}
	abi, e := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
	if e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "Landlock is not available (landlock_create_ruleset version probe)"}
	}
	handled := LandlockWriteRights(int(abi))
	attr := handled // struct landlock_ruleset_attr: handled_access_fs first
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), 8, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_create_ruleset"}
	}
	defer sysClose(int(rs))
	// The working directory is the one enterDir verified and entered.
	dir := "."
	type rule struct {
		path     string
		required bool // the agent's paths: opened with no symbolic link allowed
		optional bool // with required: skipped when absent or a link
	}
	rules := []rule{{dir, true, false}, {"/tmp", false, false}}
	for _, w := range c.Writable {
		rules = append(rules, rule{w, true, false})
	}
	for _, d := range c.Dirs {
		rules = append(rules, rule{d, true, true})
	}
	for _, d := range landlockDevices {
		rules = append(rules, rule{d, false, false})
	}
	for _, r := range rules {
		open := sysOpen
		if r.required {
			open = sysOpenNoSymlinks
		}
		fd, e := open(r.path, oPath|oCLOEXEC)
		if e != 0 {
			if !r.required || (r.optional && (e == eNOENT || e == eLOOP)) {
				continue
			}
			return &StepError{Step: StepLandlock, Errno: e, Detail: "open " + r.path}
		}
		e = landlockAddRule(int(rs), fd, handled)
		if e == eINVAL { // not a directory: only the rights that apply to files
			e = landlockAddRule(int(rs), fd, handled&(llWriteFile|llTruncate))
		}
		sysClose(fd)
		if e != 0 {
			return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_add_rule " + r.path}
		}
	}
	if _, e := rawSyscall6(nrLandlockRestrictSelf, rs, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_restrict_self"}
	}
	return nil
}

// landlockAddRule adds a path_beneath rule (the struct is packed: u64
// allowed_access, s32 parent_fd).
func landlockAddRule(ruleset, fd int, allowed uint64) uintptr {
	var a [12]byte
	for i := 0; i < 8; i++ {
		a[i] = byte(allowed >> (8 * i))
	}
	for i := 0; i < 4; i++ {
		a[8+i] = byte(uint32(fd) >> (8 * i))
	}
	_, e := rawSyscall6(nrLandlockAddRule, uintptr(ruleset), landlockRulePathBeneath, uintptr(unsafe.Pointer(&a[0])), 0, 0, 0)
	runtime.KeepAlive(&a)
	return e
}

// Landlock's execute right and scopes (linux/landlock.h).
const (
	llExecute            = 1 << 0
	llScopeAbstractUnix  = 1 << 0 // ABI 6
	llScopeSignal        = 1 << 1 // ABI 6
	landlockRulesetAttr3 = 24     // handled_access_fs, handled_access_net, scoped
)

// restrictScope puts the target in a Landlock domain of its own (a second
// layer beside restrictLandlock's), which:
//   - with FlagScope, is scoped for signals and abstract unix sockets: the
//     target and its descendants can signal, and connect to the abstract
//     sockets of, only processes of their own domain;
//   - with FlagExecScope, handles execute: execve(2) anywhere in the tree
//     succeeds only for the files of c.Exec (and exe, the launch's own
//     executable), and for the ELF interpreter and #! interpreter the
//     kernel opens, which c.Exec must list;
//   - like any Landlock domain, keeps the tree from ptrace-ing a process
//     outside it (PTRACE_ATTACH, pidfd_getfd, /proc/PID/mem and environ).
//
// A path of c.Exec that does not exist is skipped (there is nothing to run).
func restrictScope(c *Config, exe int) *StepError {
	if c.Flags&(FlagScope|FlagExecScope) == 0 {
		return nil
	}
	var attr [3]uint64
	if c.Flags&FlagExecScope != 0 {
		attr[0] = llExecute
	}
	if c.Flags&FlagScope != 0 {
		attr[2] = llScopeAbstractUnix | llScopeSignal
	}
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr[0])), landlockRulesetAttr3, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return &StepError{Step: StepScope, Errno: e, Detail: "landlock_create_ruleset (scoped)"}
	}
	defer sysClose(int(rs))
	if c.Flags&FlagExecScope != 0 {
		if e := landlockAddRule(int(rs), exe, llExecute); e != 0 {
			return &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule for the launched executable"}
		}
		for _, p := range c.Exec {
			fd, e := sysOpen(p, oPath|oCLOEXEC)
			if e == eNOENT {
				continue
			}
			if e != 0 {
				return &StepError{Step: StepScope, Errno: e, Detail: "open " + p}
			}
			// Only a regular file: a rule on a directory would let every
			// file beneath it run (a directory put in its place since the
			// list was made, for instance).
			if reg, e := isRegular(fd); e != 0 || !reg {
				sysClose(fd)
				if e != 0 {
					return &StepError{Step: StepScope, Errno: e, Detail: "statx " + p}
				}
				continue
			}
			e = landlockAddRule(int(rs), fd, llExecute)
			sysClose(fd)
			if e != 0 {
				return &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule " + p}
			}
		}
	}
	if _, e := rawSyscall6(nrLandlockRestrictSelf, rs, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepScope, Errno: e, Detail: "landlock_restrict_self (scoped)"}
	}
	return nil
}

// isRegular reports whether fd is a regular file (statx of the descriptor).
func isRegular(fd int) (bool, uintptr) {
	var stx [256]byte // struct statx; stx_mode is the u16 at offset 28
	empty := [1]byte{}
	_, e := rawSyscall6(nrStatx, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), atEmptyPath, 1 /* STATX_TYPE */, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(&stx)
	runtime.KeepAlive(&empty)
	if e != 0 {
		return false, e
	}
	mode := uint16(stx[28]) | uint16(stx[29])<<8
	return mode&0o170000 == 0o100000, 0
}

// sockFprog is struct sock_fprog.
type sockFprog struct {
	len    uint16
	filter *byte
}

// installSeccomp installs the filter, the last step before execve. It
// applies to this thread, the one that execs (the stage's other runtime
// threads end with the exec), so the target runs under it.
func installSeccomp(c *Config) *StepError {
	if len(c.Seccomp) == 0 {
		return nil
	}
	if len(c.Seccomp)%8 != 0 || len(c.Seccomp)/8 > 4096 {
		return &StepError{Step: StepSeccomp, Errno: eINVAL, Detail: "malformed filter of " + utoa(uint64(len(c.Seccomp))) + " bytes"}
	}
	// struct sock_filter needs 4-byte alignment; the decoded bytes may not have it.
	prog := make([]uint64, len(c.Seccomp)/8)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(c.Seccomp)), c.Seccomp)
	p := sockFprog{len: uint16(len(prog)), filter: (*byte)(unsafe.Pointer(&prog[0]))}
	_, e := rawSyscall6(nrSeccomp, seccompSetModeFilter, 0, uintptr(unsafe.Pointer(&p)), 0, 0, 0)
	runtime.KeepAlive(&p)
	runtime.KeepAlive(prog)
	if e != 0 {
		return &StepError{Step: StepSeccomp, Errno: e, Detail: "seccomp(SECCOMP_SET_MODE_FILTER)"}
	}
	return nil
}
