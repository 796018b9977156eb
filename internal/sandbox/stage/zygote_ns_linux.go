//go:build linux && (amd64 || arm64)

package stage

import "unsafe"

// The zygote's plan of the isolation steps that need per-launch
// namespaces (a root server's PID, network, UTS and IPC namespaces) and of
// the read-only filesystem: setupMounts' read-only pass, fresh /proc and
// fresh /sys (mounts_linux.go), setHostname (uts_linux.go) and
// raiseLoopback (net_linux.go), as the same system calls with the same
// StepErrors, in contain()'s order. The namespaces themselves are the
// child's clone3 flags (zy.ns), as they are a stage's clone flags: the
// child is the PID namespace's init, as a stage is.

// Per-launch namespaces a zygote's child may be cloned into.
const (
	cloneNewUTS = 0x04000000
	cloneNewIPC = 0x08000000
	cloneNewPID = 0x20000000
	cloneNewNet = 0x40000000
	zygoteNS    = cloneNewUTS | cloneNewIPC | cloneNewPID | cloneNewNet
	iffLoopback = 0x8
	tmpfsMagic  = 0x01021994
)

// zygoteNSFromEnv reads ZygoteNSEnv, ZygoteCapsEnv and ZygoteSeccompEnv
// from this process' environment: the clone flags of every child's
// namespaces (0: none, or absent), the capabilities any child may keep
// (absent: every one) and the seccomp program to install on itself (nil:
// none); false: unreadable, a value out of range, a flag the zygote does
// not make or a program that is not whole instructions.
func zygoteNSFromEnv() (ns uintptr, caps uint64, filter []byte, ok bool) {
	fd, e := sysOpen("/proc/self/environ", oRDONLY|oCLOEXEC)
	if e != 0 {
		return 0, 0, nil, false
	}
	b := make([]byte, 4096)
	n, _ := readFull(fd, b)
	sysClose(fd)
	if n == len(b) {
		return 0, 0, nil, false // more than the launcher ever gives a zygote
	}
	caps = ^uint64(0)
	for _, kv := range splitNUL(b[:n]) {
		if v, found, good := envUint(kv, ZygoteNSEnv); found {
			if !good || v&^zygoteNS != 0 {
				return 0, 0, nil, false
			}
			ns = uintptr(v)
		} else if v, found, good := envUint(kv, ZygoteCapsEnv); found {
			if !good {
				return 0, 0, nil, false
			}
			caps = v
		} else if v, found, good := envHex(kv, ZygoteSeccompEnv); found {
			if !good || len(v) == 0 || len(v)%8 != 0 || len(v)/8 > MaxZygoteSeccomp {
				return 0, 0, nil, false
			}
			filter = v
		}
	}
	return ns, caps, filter, true
}

// envHex parses kv as key=hexadecimal bytes (lower case): found says
// whether kv is key's, good whether its value is whole bytes.
func envHex(kv []byte, key string) (v []byte, found, good bool) {
	if len(kv) <= len(key) || string(kv[:len(key)]) != key || kv[len(key)] != '=' {
		return nil, false, false
	}
	digits := kv[len(key)+1:]
	if len(digits)%2 != 0 {
		return nil, true, false
	}
	v = make([]byte, len(digits)/2)
	for i := range v {
		hi, ok1 := hexDigit(digits[2*i])
		lo, ok2 := hexDigit(digits[2*i+1])
		if !ok1 || !ok2 {
			return nil, true, false
		}
		v[i] = hi<<4 | lo
	}
	return v, true, true
}

func hexDigit(ch byte) (byte, bool) {
	switch {
	case '0' <= ch && ch <= '9':
		return ch - '0', true
	case 'a' <= ch && ch <= 'f':
		return ch - 'a' + 10, true
	}
	return 0, false
}

// envUint parses kv as key=decimal: found says whether kv is key's, good
// whether its value is a decimal number below 2^63.
func envUint(kv []byte, key string) (v uint64, found, good bool) {
	if len(kv) <= len(key) || string(kv[:len(key)]) != key || kv[len(key)] != '=' {
		return 0, false, false
	}
	digits := kv[len(key)+1:]
	if len(digits) == 0 || len(digits) > 19 {
		return 0, true, false
	}
	for _, ch := range digits {
		if ch < '0' || ch > '9' {
			return 0, true, false
		}
		v = v*10 + uint64(ch-'0')
	}
	return v, true, v < 1<<63
}

func splitNUL(b []byte) [][]byte {
	var out [][]byte
	start := 0
	for i, ch := range b {
		if ch == 0 {
			out = append(out, b[start:i])
			start = i + 1
		}
	}
	if start < len(b) {
		out = append(out, b[start:])
	}
	return out
}

// childPpid is what getppid gives a child while the launcher lives: the
// server's pid, or 0 in a new PID namespace (its parent is outside it; a
// stage's setIdentity compares 0 with 0 there too).
func childPpid() uintptr {
	if zy.ns&cloneNewPID != 0 {
		return 0
	}
	return zy.serverPid
}

// nsMatches reports whether c's namespace steps are those of the
// namespaces this zygote's children get (the launcher builds both from one
// isolation; anything else is planned by a stage).
func nsMatches(c *Config) bool {
	mountNS := c.Flags&FlagMountNS != 0
	return (c.Flags&FlagProc != 0) == (zy.ns&cloneNewPID != 0) &&
		(c.Flags&FlagLoopback != 0) == (zy.ns&cloneNewNet != 0) &&
		(c.Flags&FlagSysfs != 0) == (zy.ns&cloneNewNet != 0) &&
		(c.Hostname != "") == (zy.ns&cloneNewUTS != 0) &&
		(mountNS || c.Flags&(FlagProc|FlagSysfs|FlagReadOnly) == 0)
}

// planReadOnly is setupMounts' read-only pass with root "/": the writable
// paths become mounts of their own, every mount is made read-only, the
// writable paths writable again, and a private tmpfs goes on /tmp with the
// paths beneath it bound back. It returns the registers of the kept
// directories (closed at the end of the mounts, as setupMounts' defer
// does); false: not planned here.
func (b *planner) planReadOnly(c *Config) ([]int8, bool) {
	if c.Flags&FlagReadOnly == 0 {
		return nil, true
	}
	for _, w := range c.Writable {
		b.openNoSymlinks(w, oPath|oCLOEXEC, 0, stepErr(StepMounts, b.detail("open the writable path ", w, " (no symbolic links allowed)")))
		at := b.procFD(0)
		b.sys(stepErr(StepMounts, b.detail("bind the writable path ", w, " onto itself")), nrMount, at, at, 0, msBind|msRec, 0)
		b.closeReg(0)
	}
	ro := make([]byte, 32) // struct mount_attr
	*(*mountAttr)(unsafe.Pointer(&ro[0])) = mountAttr{set: mountAttrRO}
	b.sys(stepErr(StepMounts, "make every mount under / read-only (mount_setattr, Linux 5.12+)"),
		nrMountSetattr, atFDCWD, b.cstr("/"), atRecursive, b.addr(ro), 32)
	rw := make([]byte, 32)
	*(*mountAttr)(unsafe.Pointer(&rw[0])) = mountAttr{clr: mountAttrRO}
	rwp := b.addr(rw)
	for _, w := range c.Writable {
		b.openNoSymlinks(w, oPath|oCLOEXEC, 0, stepErr(StepMounts, b.detail("open the writable path ", w, " (no symbolic links allowed)")))
		at := b.procFD(0)
		b.sys(stepErr(StepMounts, b.detail("make the writable path ", w, " writable again")), nrMountSetattr, atFDCWD, at, atRecursive, rwp, 32)
		b.closeReg(0)
	}
	opts := "mode=1777"
	if c.TmpfsMB > 0 {
		opts += ",size=" + utoa(c.TmpfsMB) + "m"
	}
	// openBeneath: what lies beneath /tmp is opened before the tmpfs
	// covers it, and bound back over it (bindBack).
	keep, ok := b.planBeneath(StepMounts, append(append(append([]string(nil), c.Keep...), c.Writable...), c.Dir), []string{"/tmp"})
	if !ok {
		return nil, false
	}
	var regs []int8
	for _, k := range keep {
		regs = append(regs, k.reg)
	}
	b.sys(stepErr(StepMounts, "mount a private tmpfs on /tmp"), nrMount, zyAddr(zy.tmpfs), b.cstr("/tmp"), zyAddr(zy.tmpfs), msNosuid|msNodev, b.cstr(opts))
	b.planBindBack(StepMounts, keep)
	return regs, true
}

// planProc is setupMounts' fresh /proc (FlagProc: the child is the PID
// namespace's init).
func (b *planner) planProc(c *Config) {
	if c.Flags&FlagProc == 0 {
		return
	}
	proc := b.cstr("proc")
	b.sys(stepErr(StepMounts, "mount a fresh /proc on /proc"), nrMount, proc, b.cstr("/proc"), proc, msNosuid|msNoexec|msNodev, 0)
}

// planSysfs is mountSysfs("/sys"). What mountSysfs decides by the kind of
// filesystem is decided here, in the zygote's view (every child's mount
// namespace is a copy of it): a /sys that is not the kernel's sysfs, or
// one that the private view touches, is left to a stage (false). The child
// checks that the filesystems are still of the kinds seen here, and fails
// (fail closed) where one changed in between. Where the kernel refuses the
// sysfs with EPERM ("mount too revealing"), the child mounts the empty
// tmpfs instead, as mountSysfs does; a double failure reports the tmpfs's
// errno (mountSysfs gives the sysfs's, with the tmpfs's in its detail).
func (b *planner) planSysfs(c *Config) bool {
	if c.Flags&FlagSysfs == 0 {
		return true
	}
	for _, list := range [][]string{c.Private, c.Masked, c.Sealed, c.Keep, c.Writable} {
		for _, p := range list {
			if beneathAny(p, []string{"/sys"}) || beneathAny("/sys", []string{p}) {
				return false
			}
		}
	}
	if c.Flags&FlagReadOnly != 0 && c.Dir != "" && beneathAny(c.Dir, []string{"/sys"}) {
		return false
	}
	fd, e := sysOpenNoSymlinks("/sys", oPath|oCLOEXEC|oDIRECTORY)
	if e != 0 {
		return false
	}
	t, e := fstatfsType(fd)
	sysClose(fd)
	if e != 0 || t != sysfsMagic {
		return false
	}
	cgType := uint64(0) // 0: no cgroup mount to bind back
	if cg, e := sysOpenNoSymlinks("/sys/fs/cgroup", oPath|oCLOEXEC|oDIRECTORY); e == 0 {
		if ct, e := fstatfsType(cg); e == 0 && ct != sysfsMagic {
			cgType = ct
		}
		sysClose(cg)
	}
	sysR, ok1 := b.reg()
	cgR, ok2 := b.reg()
	flag, ok3 := b.reg()
	roF, ok4 := b.reg()
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return false
	}
	b.openNoSymlinks("/sys", oPath|oCLOEXEC|oDIRECTORY, sysR, stepErr(StepMounts, "open /sys (no symbolic links allowed)"))
	b.expectFSType(sysR, sysfsMagic, stepErr(StepMounts, "statfs /sys"), stepErr(StepMounts, "statfs /sys: not the kernel's sysfs any more"))
	b.set(cgR, ^uintptr(0))
	if cgType != 0 {
		b.openNoSymlinks("/sys/fs/cgroup", oPath|oCLOEXEC|oDIRECTORY, cgR, nil) // any error: no cgroup files
		buf := make([]byte, 256)
		o := b.sys(nil, nrFstatfs, 0, b.addr(buf))
		o.in, o.inReg, o.when, o.out = 0, cgR, cgR, flag
		b.dropWhenNeg(cgR, flag)
		for i := 0; i < 8; i++ {
			b.expect(stepErr(StepMounts, "statfs /sys/fs/cgroup: another filesystem than when planned"), 0, &buf[i], byte(cgType>>(8*i)))
			b.prog.ops[len(b.prog.ops)-1].when = cgR
		}
	}
	at := b.procFD(sysR)
	flags := uintptr(msRdonly | msNosuid | msNodev | msNoexec)
	sysfs := b.cstr("sysfs")
	o := b.sys(stepErr(StepMounts, "mount a fresh sysfs on /sys for the network namespace"), nrMount, sysfs, at, sysfs, flags, 0)
	o.ok1, o.out = ePERM, flag
	o = b.sys(stepErr(StepMounts, "mount a fresh sysfs on /sys for the network namespace (an empty tmpfs instead failed too)"),
		nrMount, zyAddr(zy.tmpfs), at, zyAddr(zy.tmpfs), flags, b.cstr("mode=0555,size=4k"))
	o.when, o.neg = flag, true
	b.dropWhenNeg(cgR, flag) // the tmpfs: no cgroup files
	// The host's cgroup mount bound back read-only, or not at all.
	target := b.cstr("/sys/fs/cgroup")
	cgAt := b.procFD(cgR)
	b.set(flag, ^uintptr(0))
	o = b.sys(nil, nrMount, cgAt, target, 0, msBind|msRec, 0)
	o.when, o.out = cgR, flag
	b.set(roF, 0)
	ro := make([]byte, 32)
	*(*mountAttr)(unsafe.Pointer(&ro[0])) = mountAttr{set: mountAttrRO}
	o = b.sys(nil, nrMountSetattr, atFDCWD, target, atRecursive, b.addr(ro), 32)
	o.when, o.out = flag, roF
	o = b.sys(nil, nrUmount2, target, mntDetach)
	o.when, o.neg = roF, true
	b.closeReg(cgR)
	b.closeReg(sysR)
	return true
}

// dropWhenNeg closes reg's descriptor and empties reg when flag < 0.
func (b *planner) dropWhenNeg(reg, flag int8) {
	o := b.sys(nil, nrClose, 0)
	o.in, o.inReg, o.when, o.neg = 0, reg, flag, true
	o = b.sys(nil, 0, ^uintptr(0))
	o.kind, o.out, o.when, o.neg = opSet, reg, flag, true
}

// expectFSType appends fstatfs(reg) and a check that its f_type is magic.
func (b *planner) expectFSType(reg int8, magic uint64, statErr, typeErr *StepError) {
	buf := make([]byte, 256) // struct statfs; f_type first (amd64, arm64)
	o := b.sys(statErr, nrFstatfs, 0, b.addr(buf))
	o.in, o.inReg = 0, reg
	for i := 0; i < 8; i++ {
		b.expect(typeErr, 0, &buf[i], byte(magic>>(8*i)))
	}
}

// planHostname is setHostname.
func (b *planner) planHostname(c *Config) {
	if c.Hostname == "" {
		return
	}
	b.sys(stepErr(StepHostname, b.detail("sethostname ", c.Hostname)), nrSethostname, b.addr([]byte(c.Hostname)), uintptr(len(c.Hostname)))
}

// planLoopback is raiseLoopback. Its read-modify-write of lo's flags is
// planned as a read that must find the flags of a new namespace's lo (down,
// IFF_LOOPBACK only: the namespace is the child's own, made by its clone)
// and a write of those flags with IFF_UP.
func (b *planner) planLoopback(c *Config) {
	if c.Flags&FlagLoopback == 0 {
		return
	}
	o := b.sys(stepErr(StepLoopback, "socket"), nrSocket, afInet, sockDgram|sockCloexec, 0)
	o.out = 0
	get := make([]byte, 40) // struct ifreq
	copy(get, "lo")
	o = b.sys(stepErr(StepLoopback, "SIOCGIFFLAGS lo"), nrIoctl, 0, siocgifflags, b.addr(get))
	o.in, o.inReg = 0, 0
	odd := stepErr(StepLoopback, "SIOCGIFFLAGS lo: not the flags of a new network namespace's lo")
	b.expect(odd, 0, &get[16], iffLoopback)
	b.expect(odd, 0, &get[17], 0)
	set := make([]byte, 40)
	copy(set, "lo")
	set[16] = iffLoopback | iffUp
	o = b.sys(stepErr(StepLoopback, "SIOCSIFFLAGS lo up"), nrIoctl, 0, siocsifflags, b.addr(set))
	o.in, o.inReg = 0, 0
	b.closeReg(0)
}

// Namespaces made while the zygote idles. A warm stage is cloned into its
// namespaces before its launch arrives; the zygote's child would make
// them on the launch's path (its clone3). So, after each reply, the
// zygote makes the next child's network, UTS and IPC namespaces itself:
// unshare on its own thread, a descriptor of each (/proc/thread-self/ns),
// and setns back into its own. At the next launch it enters them (setns)
// just around the child's clone3, which then asks only for the PID
// namespace (one cannot be entered before its init exists: the kernel
// gives no pid_for_children descriptor of it): the child is created in
// them, exactly as if its clone3 had made them, and the zygote goes back
// into its own. Each set is used by one child only and dropped then (the
// zygote closes its descriptors); if any step fails the child's clone3
// makes them as before, and a zygote that cannot go back into its own
// namespaces exits (the launcher starts another).
var nsPrep struct {
	own   [3]int // the zygote's own namespaces, by nsKinds; -1: not asked for
	next  [3]int // the next child's, made while idle; -1: none
	ready bool
}

var nsKinds = [3]struct {
	flag uintptr
	path []byte // NUL-terminated: opened with no allocation while in another namespace
}{{cloneNewNet, []byte("/proc/thread-self/ns/net\x00")}, {cloneNewUTS, []byte("/proc/thread-self/ns/uts\x00")},
	{cloneNewIPC, []byte("/proc/thread-self/ns/ipc\x00")}}

// openNS opens a namespace file with no allocation (between the unshare
// and the setns back nothing may make the runtime start a thread, which
// would be created in the new namespaces).
func openNS(path []byte) (int, uintptr) {
	fd, e := rawSyscall6(nrOpenat, atFDCWD, uintptr(unsafe.Pointer(&path[0])), oRDONLY|oCLOEXEC, 0, 0, 0)
	return int(fd), e
}

// nsPrepared are the namespaces the zygote makes while idle.
const nsPrepared = cloneNewNet | cloneNewUTS | cloneNewIPC

// nsPrepInit opens the zygote's own namespaces (at its start, on its
// only Go thread that runs anything: the main one, in package init).
func nsPrepInit() {
	for i, k := range nsKinds {
		nsPrep.own[i], nsPrep.next[i] = -1, -1
		if zy.ns&k.flag == 0 {
			continue
		}
		fd, e := openNS(k.path)
		if e != 0 {
			closeNSFDs(&nsPrep.own)
			return // the children's clone3 makes them
		}
		nsPrep.own[i] = fd
	}
	prepareNS()
}

func closeNSFDs(fds *[3]int) {
	for i, fd := range fds {
		if fd >= 0 {
			sysClose(fd)
		}
		fds[i] = -1
	}
}

// prepareNS makes the next child's namespaces (idle time: after a reply).
func prepareNS() {
	if zy.ns&nsPrepared == 0 || nsPrep.ready || nsPrep.own[0] < 0 && nsPrep.own[1] < 0 && nsPrep.own[2] < 0 {
		return
	}
	if _, e := rawSyscall6(nrUnshare, zy.ns&nsPrepared, 0, 0, 0, 0, 0); e != 0 {
		return
	}
	ok := true
	for i, k := range nsKinds {
		if nsPrep.own[i] < 0 {
			continue
		}
		fd, e := openNS(k.path)
		if e != 0 {
			ok = false
			break
		}
		nsPrep.next[i] = fd
	}
	backToOwnNS()
	if !ok {
		closeNSFDs(&nsPrep.next)
		return
	}
	nsPrep.ready = true
}

// backToOwnNS puts the zygote back into its own namespaces, or ends it.
func backToOwnNS() {
	for i, k := range nsKinds {
		if nsPrep.own[i] < 0 {
			continue
		}
		if _, e := rawSyscall6(nrSetns, uintptr(nsPrep.own[i]), k.flag, 0, 0, 0, 0); e != 0 {
			sysExit(ExitFailed) // never serve a launch from another namespace
		}
	}
}

// enterPreparedNS enters the next child's namespaces for its clone3;
// false: none ready (the clone3 makes them). The caller calls
// leavePreparedNS right after the clone3.
func enterPreparedNS() bool {
	if !nsPrep.ready {
		return false
	}
	for i, k := range nsKinds {
		if nsPrep.next[i] < 0 {
			continue
		}
		if _, e := rawSyscall6(nrSetns, uintptr(nsPrep.next[i]), k.flag, 0, 0, 0, 0); e != 0 {
			leavePreparedNS()
			return false
		}
	}
	return true
}

// leavePreparedNS goes back into the zygote's own namespaces and drops the
// set just used (or refused): the next child gets a new one.
func leavePreparedNS() {
	backToOwnNS()
	closeNSFDs(&nsPrep.next)
	nsPrep.ready = false
}
