//go:build linux && (amd64 || arm64)

package stage

import (
	"runtime"
	"unsafe"
)

// Performance machinery, not a security step: the mount namespace of the
// next child's private view (SPEC 7.1a), made while the zygote idles, so
// that a launch enters it (one setns) instead of copying the host's mount
// table and mounting a tmpfs on each private directory on its path.
//
// What is made ahead is exactly the launch-independent part of planMounts
// for a private view without the read-only filesystem: unshare the mount
// namespace, make every mount private, and cover each of c.Private that
// exists with an empty tmpfs, in c.Private's order (setupPrivate's steps 2).
// A maker child does it (clone3 with CLONE_VM|CLONE_VFORK|CLONE_FILES: the
// zygote's own namespace and working directory never change): it leaves in
// the zygote's descriptor table the namespace and, for each private
// directory, a descriptor of it taken just before its tmpfs covered it.
//
// Everything that depends on the launch or on the host's state at the
// launch stays on the launch's path, in the same order as without the
// namespace made ahead: the directories bound back (opened beneath the
// covered directory's descriptor, no symbolic link in the rest of the path,
// as openBeneath opens them from /), the policy's files sealed, the
// credentials masked, /proc and /sys, everything after.
//
// The namespace made ahead is used only when it is what the launch's own
// unshare would give:
//   - it was made for the same private directories (a launch with other
//     ones drops it, and the next is made for those);
//   - no mount or unmount happened in the zygote's (the server's)
//     namespace since just before it was made (a poll of the zygote's
//     /proc/self/mountinfo, which the kernel signals on any change of that
//     table): a namespace copied earlier would miss a newer mount;
//   - each private directory is still the one it covered (same device and
//     inode, found by a stat in the zygote's view, the host's), or still
//     absent: a directory removed and created again on the host would be
//     uncovered in the namespace made ahead (the kernel detaches a mount
//     whose mount point is removed in another namespace).
//
// Each namespace serves one launch and is dropped then (its descriptors
// closed). A launch that cannot use it unshares its own, as before; a
// maker that fails turns the preparation off for this zygote's life. The
// zygote's children get copies of these descriptors (close-on-exec, closed
// by every target's exec; the plan's close_range marks them so too).

// maxPrivate bounds the private directories made ahead (SPEC 7.1a has
// six at most: /tmp, /var/tmp, /dev/shm, /run, /var/run, $XDG_RUNTIME_DIR).
const maxPrivate = 8

// fileID is a directory's identity: device and inode (absent: none).
type fileID struct {
	dev    uint64
	ino    uint64
	absent bool
}

var mntPrep struct {
	off     bool     // made and failed once: launches unshare their own
	events  int      // the zygote's /proc/self/mountinfo (polled); -1: none
	want    []string // the private directories of the last launch with a private view
	ready   bool
	use     bool                  // the launch being planned enters it
	private []string              // what the ready namespace was made for
	ns      int32                 // its descriptor
	covered [maxPrivate]int32     // each private directory's, before its tmpfs; -1: not covered
	ids     [maxPrivate]fileID    // each private directory as the host has it
	stx     [maxPrivate][256]byte // each tmpfs's statx in the namespace (the maker's)
	mntID   [maxPrivate]uint64    // each tmpfs's mount id there
}

// Constants of the maker and the checks.
const (
	cloneVfork        = 0x4000
	cloneFiles        = 0x400
	wAll              = 0x40000000
	pollPri           = 0x2
	pollErr           = 0x8
	resolveBeneath    = 0x08
	atSymlinkNofollow = 0x100
	statxMntID        = 0x1000
	pollIn            = 0x1
)

// mntPrepInit opens what the checks poll (zygoteInit).
func mntPrepInit() {
	mntPrep.ns = -1
	for i := range mntPrep.covered {
		mntPrep.covered[i] = -1
	}
	fd, e := sysOpen("/proc/self/mountinfo", oRDONLY|oCLOEXEC)
	if e != 0 {
		mntPrep.off, mntPrep.events = true, -1
		return
	}
	mntPrep.events = fd
}

// mountEvents reports whether the zygote's mount table changed since the
// last call (the kernel flags POLLPRI|POLLERR once per change seen).
func mountEvents() bool { return mountTableChanged(mntPrep.events) }

// mountTableChanged reports whether the mount table that fd (an open
// /proc/self/mountinfo) shows changed since the last poll of fd.
func mountTableChanged(fd int) bool {
	pfd := pollFD{fd: int32(fd), events: pollPri}
	var ts [2]int64 // zero: do not wait
	n, e := rawSyscall6(nrPpoll, uintptr(unsafe.Pointer(&pfd)), 1, uintptr(unsafe.Pointer(&ts)), 0, 8, 0)
	runtime.KeepAlive(&pfd)
	runtime.KeepAlive(&ts)
	return e != 0 || (n == 1 && pfd.revent&(pollPri|pollErr) != 0)
}

// statID is path's identity in the zygote's view (a final symbolic link
// not followed).
func statID(path string) (fileID, uintptr) {
	p := cstring(path)
	return statxID(atFDCWD, p, atSymlinkNofollow)
}

// fdID is the identity of the file fd names.
func fdID(fd int) (fileID, uintptr) {
	return statxID(uintptr(fd), []byte{0}, atEmptyPath)
}

func statxID(dirfd uintptr, path []byte, flags uintptr) (fileID, uintptr) {
	var stx [256]byte // struct statx: stx_ino at 32, stx_dev_major/minor at 136/140
	_, e := rawSyscall6(nrStatx, dirfd, uintptr(unsafe.Pointer(&path[0])), flags, 0x7ff /* STATX_BASIC_STATS */, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(path)
	runtime.KeepAlive(&stx)
	if e == eNOENT {
		return fileID{absent: true}, 0
	}
	if e != 0 {
		return fileID{}, e
	}
	u32 := func(o int) uint64 {
		return uint64(stx[o]) | uint64(stx[o+1])<<8 | uint64(stx[o+2])<<16 | uint64(stx[o+3])<<24
	}
	return fileID{dev: u32(136)<<32 | u32(140), ino: u32(32) | u32(36)<<32}, 0
}

// prepareMountNS makes the next child's mount namespace (idle time: after
// a reply).
func prepareMountNS() {
	want := mntPrep.want
	if mntPrep.off || mntPrep.ready || len(want) == 0 || len(want) > maxPrivate || !vm.on {
		return
	}
	mountEvents() // from here on, a change of the host's mounts is seen
	for i, d := range want {
		id, e := statID(d)
		if e != 0 {
			return // not a launch's concern: try after the next one
		}
		mntPrep.ids[i] = id
		mntPrep.covered[i] = -1
	}
	mntPrep.ns = -1
	p := planMaker(want)
	stack, e := takeVMStack()
	if e != 0 {
		return
	}
	args := cloneArgs{
		flags:      cloneVM | cloneVfork | cloneFiles | cloneClearSighand,
		exitSignal: sigCHLD,
		stack:      uint64(uintptr(unsafe.Pointer(&stack[vmGuard]))),
		stackSize:  vmStackSize,
	}
	pid, e := vmForkAndRun(&args, &p.prog.ops[0], uintptr(len(p.prog.ops)), ^uintptr(0))
	runtime.KeepAlive(p)
	ok := e == 0
	if ok {
		// CLONE_VFORK: the maker has exited; reap it.
		var status int32
		r, we := rawSyscall6(nrWait4, pid, uintptr(unsafe.Pointer(&status)), wAll, 0, 0, 0)
		ok = we == 0 && r == pid && status == 0
	}
	p.wipe()
	vm.stacks = append(vm.stacks, stack)
	if !ok || mntPrep.ns < 0 {
		dropMountNS()
		mntPrep.off = true
		return
	}
	if !mountIDs(want) {
		dropMountNS()
		mntPrep.off = true // a kernel without STATX_MNT_ID (before 5.8)
		return
	}
	if !coveredAsSeen(want) {
		dropMountNS() // the host changed meanwhile: after the next launch
		return
	}
	mntPrep.private = append(mntPrep.private[:0], want...)
	mntPrep.ready = true
}

// planMaker is the maker's program: planMounts' first steps and the
// private directories' tmpfs (planPrivate's), each directory's descriptor
// and the namespace's stored into mntPrep, then exit_group(0). It is run
// with no report socket (a failure exits ExitFailed).
func planMaker(want []string) *zygotePlan {
	b := &planner{regs: 1}
	b.sys(stepErr(StepMounts, "unshare the mount namespace"), nrUnshare, cloneNewNS)
	b.sys(stepErr(StepMounts, "make every mount private"), nrMount, 0, b.cstr("/"), 0, msRec|msPrivate, 0)
	for i, d := range want {
		b.openNoSymlinks(d, oPath|oCLOEXEC|oDirectory, 0, stepErr(StepPrivate, b.detail("open ", d)), eNOENT, eLOOP)
		b.putFD(0, &mntPrep.covered[i])
		at := b.procFD(0)
		b.sys(stepErr(StepPrivate, b.detail("mount a private tmpfs on ", d)), nrMount, zyAddr(zy.tmpfs), at, zyAddr(zy.tmpfs), msNosuid|msNodev, zyAddr(zy.modes[0]))
		b.sys(stepErr(StepPrivate, b.detail("statx ", d)), nrStatx, atFDCWD, b.cstr(d), atSymlinkNofollow, statxMntID, uintptr(unsafe.Pointer(&mntPrep.stx[i][0])))
		b.when(0, 2)
	}
	b.open("/proc/thread-self/ns/mnt", oRDONLY|oCLOEXEC, 0, stepErr(StepMounts, "open the mount namespace"))
	b.putFD(0, &mntPrep.ns)
	b.sys(nil, nrExitGroup, 0)
	return &zygotePlan{prog: b.prog, keep: b.keep}
}

// mountIDs reads each tmpfs's mount id from the maker's statx; false:
// this kernel gives none.
func mountIDs(want []string) bool {
	for i := range want {
		mntPrep.mntID[i] = 0
		if mntPrep.covered[i] < 0 {
			continue
		}
		b := &mntPrep.stx[i]
		mask := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		id := *(*uint64)(unsafe.Pointer(&b[144])) // stx_mnt_id
		if mask&statxMntID == 0 || id == 0 {
			return false
		}
		mntPrep.mntID[i] = id
	}
	return true
}

// pollFD is struct pollfd (poll.h), for ppoll.
type pollFD struct {
	fd             int32
	events, revent int16
}

// awaitBusy is how long awaitLaunch waits holding the processor (a raw
// call) before its blocking wait: longer than the gap between one
// client's launches on a slow host.
const awaitBusy = 20 * 1000 * 1000 // ns

// awaitLaunch waits for the next launch on the zygote's socket, and
// while a namespace made ahead is held, for a change of the server's
// mounts: that drops it (it could not be used, and would keep an
// unmounted filesystem busy); the next reply makes another.
//
// For awaitBusy it waits in a raw call: the runtime's monitor sees a
// running goroutine and stays in its slow rhythm, as for launches that
// follow each other. Then it waits in the zygote's one blocking call: the
// runtime hands the processor off while it lasts, and its monitor sleeps
// too (an idle zygote woken by nothing; a raw wait was preempted every
// 10 ms). The launch is then on the socket, and receiveN reads it with
// raw calls (recvBlocks false): a blocking recvmsg there would hand the
// processor off on the launch's path, and the zygote's thread would wait
// (70 µs here) for the thread the runtime woke to give it back.
func awaitLaunch() {
	busy := [2]int64{0, awaitBusy} // struct timespec; ppoll leaves the time remaining in it
	for {
		pfd := [2]pollFD{{fd: int32(sock), events: pollIn}, {fd: int32(mntPrep.events), events: pollPri}}
		n := uintptr(1)
		if mntPrep.ready {
			n = 2
		}
		var r, e uintptr
		if busy[0] > 0 || busy[1] > 0 {
			r, e = rawSyscall6(nrPpoll, uintptr(unsafe.Pointer(&pfd[0])), n, uintptr(unsafe.Pointer(&busy)), 0, 8, 0)
			if e == 0 && r == 0 {
				busy = [2]int64{} // nothing came: the blocking wait
				continue
			}
		} else {
			_, e = blockingSyscall6(nrPpoll, uintptr(unsafe.Pointer(&pfd[0])), n, 0, 0, 8, 0)
		}
		runtime.KeepAlive(&pfd)
		runtime.KeepAlive(&busy)
		if e == eINTR {
			continue
		}
		if mntPrep.ready && (e != 0 || pfd[1].revent&(pollPri|pollErr) != 0) {
			dropMountNS()
		}
		if e == 0 && pfd[0].revent == 0 {
			continue // only the mounts changed: wait on for the launch
		}
		return
	}
}

// putFD appends the store of reg's value at at.
func (b *planner) putFD(reg int8, at *int32) {
	o := b.sys(nil, 0)
	o.kind, o.inReg, o.ptr = opPutFD, reg, unsafe.Pointer(at)
}

// coveredAsSeen checks what the maker covered against the host's view
// taken before it: a covered directory is the one seen; one not covered
// was absent, or lies beneath one covered earlier (which hides it, as a
// launch's own unshare would).
func coveredAsSeen(want []string) bool {
	for i := range want {
		if fd := mntPrep.covered[i]; fd >= 0 {
			id, e := fdID(int(fd))
			if e != 0 || id != mntPrep.ids[i] {
				return false
			}
			continue
		}
		if mntPrep.ids[i].absent {
			continue
		}
		hidden := false
		for j := 0; j < i; j++ {
			hidden = hidden || (mntPrep.covered[j] >= 0 && beneathAny(want[i], want[j:j+1]))
		}
		if !hidden {
			return false
		}
	}
	return true
}

// dropMountNS closes the namespace made ahead and its descriptors.
func dropMountNS() {
	if mntPrep.ns >= 0 {
		sysClose(int(mntPrep.ns))
	}
	mntPrep.ns = -1
	for i := range mntPrep.covered {
		if mntPrep.covered[i] >= 0 {
			sysClose(int(mntPrep.covered[i]))
		}
		mntPrep.covered[i] = -1
	}
	mntPrep.ready = false
}

// useMountNS reports whether c's launch enters the namespace made ahead
// (then the caller drops it after the clone); otherwise a namespace made
// for something else, or that aged, is dropped, and the next one is made
// for c's private directories.
func useMountNS(c *Config) bool {
	if c.Flags&(FlagMountNS|FlagPrivate) != FlagMountNS|FlagPrivate || c.Flags&FlagReadOnly != 0 || c.Root != "" {
		return false
	}
	if !equalPaths(mntPrep.want, c.Private) {
		// Copies: c's strings are in the receive buffer, wiped after
		// every launch.
		mntPrep.want = mntPrep.want[:0]
		for _, d := range c.Private {
			mntPrep.want = append(mntPrep.want, string([]byte(d)))
		}
	}
	if !mntPrep.ready {
		return false
	}
	if !equalPaths(mntPrep.private, c.Private) || mountEvents() {
		dropMountNS()
		return false
	}
	for i, d := range c.Private {
		if id, e := statID(d); e != 0 || id != mntPrep.ids[i] {
			dropMountNS()
			return false
		}
	}
	return true
}

func equalPaths(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// planPreparedMounts is planMounts in the namespace made ahead: enter it,
// bind the kept directories back (opened beneath the covered directories'
// descriptors), then the seals and masks as planPrivate, and /proc and
// /sys. false: out of registers (the launch uses a stage).
func (b *planner) planPreparedMounts(c *Config) bool {
	b.sys(stepErr(StepMounts, "enter the mount namespace made ahead"), nrSetns, uintptr(mntPrep.ns), cloneNewNS)
	b.planCheckCovered(c)
	keep, ok := b.planKeepCovered(c)
	if !ok {
		return false
	}
	if !b.planKeptSealsMasks(c, keep) {
		return false
	}
	b.planProc(c)
	return b.planSysfs(c)
}

// planCheckCovered makes the child check, once in the namespace, that it
// is the view a namespace of its own would give, whatever the host did
// since the zygote's checks: each covered private directory is still its
// tmpfs (the mount id the maker saw: a cover the kernel detached since
// fails), and each other one is absent (one created on the host since
// would be in sight). Any difference fails the launch.
func (b *planner) planCheckCovered(c *Config) {
	for i, d := range c.Private {
		stx := make([]byte, 256)
		err := stepErr(StepPrivate, b.detail("the mount namespace made ahead no longer covers ", d))
		o := b.sys(err, nrStatx, atFDCWD, b.cstr(d), atSymlinkNofollow, statxMntID, b.addr(stx))
		if mntPrep.covered[i] >= 0 {
			e := b.sys(err, 0, uintptr(mntPrep.mntID[i]))
			e.kind, e.ptr = opExpectWord, unsafe.Pointer(&stx[144])
			continue
		}
		o.ok1 = eNOENT
		b.expect(err, ^uintptr(0), nil, 0) // absent: the statx failed
	}
}

// planKeepCovered is planKeep in the namespace made ahead: each kept
// directory beneath a private one is opened beneath the first covered
// directory in c.Private's order that it lies in (RESOLVE_BENEATH, no
// symbolic link: as openBeneath's open from / with none in any component,
// the covered directory itself having been opened so). That one was opened
// before any tmpfs could lie on the way: an earlier private directory on
// it would be a covered one that comes first, and a later one beneath it
// was hidden by its tmpfs, so never covered. One beneath no covered
// directory is absent, as its private directory is, and skipped.
func (b *planner) planKeepCovered(c *Config) ([]keptDir, bool) {
	var keep []keptDir
	for _, k := range append(append([]string(nil), c.Keep...), c.Dir) {
		if k == "" || !beneathAny(k, c.Private) {
			continue
		}
		at := -1
		for i, d := range c.Private {
			if mntPrep.covered[i] >= 0 && beneathAny(k, []string{d}) {
				at = i
				break
			}
		}
		if at < 0 {
			continue
		}
		r, ok := b.reg()
		if !ok {
			return nil, false
		}
		rel := "."
		if d := c.Private[at]; len(k) > len(d) {
			rel = k[len(d):]
			for len(rel) > 0 && rel[0] == '/' {
				rel = rel[1:]
			}
		}
		how := make([]byte, 24)
		*(*openHow)(unsafe.Pointer(&how[0])) = openHow{flags: uint64(oPath | oCLOEXEC | oDirectory), resolve: resolveNoSymlinks | resolveNoMagiclinks | resolveBeneath}
		o := b.sys(stepErr(StepPrivate, b.detail("open ", k, " to keep it (no symbolic links allowed)")), nrOpenat2, uintptr(mntPrep.covered[at]), b.cstr(rel), b.addr(how), 24)
		b.tolerate(o, []uintptr{eNOENT, eACCES})
		o.out = r
		keep = append(keep, keptDir{k, r})
	}
	return keep, true
}
