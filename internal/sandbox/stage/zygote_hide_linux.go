//go:build linux && (amd64 || arm64)

package stage

import (
	"runtime"
	"unsafe"
)

// The hidden files' read layer (hideread_linux.go) in the zygote. The
// rules name the host's files as the zygote sees them, and every child's
// mount namespace is a copy of the zygote's: the zygote makes each
// launch's ruleset with the entries it keeps open, and the child only
// restricts itself with it. The exceptions are the entries the child
// mounts over itself (its private directories, /tmp of the read-only
// filesystem, a fresh /proc or /sys): the child opens those after its
// mounts and adds their rules, as planLandlock does. A split directory at
// or beneath one of those is left to a stage, which lists it in its own
// view.
//
// The entries of each split directory are listed once and listed again
// when the directory changed (its identity, mount, modification or change
// time differ: an entry created, removed or renamed), when it had changed
// less than a second before it was listed (the kernel's timestamps may be
// coarser than the gap between a change and the listing), or when the
// zygote's mount table changed (a mount on an entry names another root).
// A listing that is out of date can only miss an entry created since (it
// is then unreadable for that launch: fail closed): an entry renamed to a
// hidden name since changes its directory's times, and a launch's own
// check of them comes before its rules.

// hiddenFDBudget bounds the entries' descriptors the zygote keeps open;
// past it, or for an entry that is a mount point, an entry is opened at
// each launch (its name is kept).
const hiddenFDBudget = 256

// hiddenDir is a split directory as the zygote last listed it.
type hiddenDir struct {
	key    [8]uint64 // ino, device, mount id, mtime and ctime (s, ns); all 0: absent
	recent bool      // changed less than a second before the listing
	names  []string  // its entries
	links  []bool    // which are symbolic links (never granted)
	fds    []int     // their O_PATH descriptors; -1: opened at each launch (or a link)
}

var zyHidden struct {
	dirs   map[string]*hiddenDir
	fds    int // descriptors held in dirs' fds
	events int // the zygote's /proc/self/mountinfo (polled); 0: not open yet, -1: none
	// The next launch's ruleset, made while the zygote idles for the
	// split of the last launch (prepareHidden): used when the launch has
	// the same split and no split directory changed since.
	ready struct {
		rs   int      // -1 or 0: none; made for the last launch's hidden paths, kept directories and child mounts
		dirs []string // the split directories listed
		keys [][8]uint64
		mine []string // the entries the child adds itself
	}
	// The last launch's hidden paths, kept directories, child mounts and
	// split (copies).
	lastHidden, lastStops, lastOwn, lastSplit []string
	// keys: while hiddenRuleset builds a ruleset, each directory's key as
	// read once in that build (nil otherwise). A build looks a directory up
	// for every hidden path beneath it and again for its rules: ~60 statx a
	// launch here, where ~10 directories are split.
	keys map[string][8]uint64
}

// hiddenKey is dir's identity and times (a final symbolic link not
// followed); all 0 when it cannot be read.
func hiddenKey(dir string) [8]uint64 {
	var stx [256]byte
	p := cstring(dir)
	_, e := rawSyscall6(nrStatx, atFDCWD, uintptr(unsafe.Pointer(&p[0])), atSymlinkNofollow, 0x7ff|statxMntID, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(p)
	if e != 0 {
		return [8]uint64{}
	}
	u64 := func(o int) uint64 { return *(*uint64)(unsafe.Pointer(&stx[o])) }
	u32 := func(o int) uint64 { return uint64(*(*uint32)(unsafe.Pointer(&stx[o]))) }
	// struct statx: ino 32, ctime 96, mtime 112 (s64 sec, u32 nsec),
	// dev_major/minor 136/140, mnt_id 144.
	return [8]uint64{u64(32), u32(136)<<32 | u32(140), u64(144), u64(112), u32(120), u64(96), u32(104), 1}
}

// mountID is the mount id of fd's file (0: unknown).
func mountID(fd int) uint64 {
	var stx [256]byte
	empty := [1]byte{}
	_, e := rawSyscall6(nrStatx, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), atEmptyPath, statxMntID, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(&stx)
	runtime.KeepAlive(&empty)
	if e != 0 {
		return 0
	}
	return *(*uint64)(unsafe.Pointer(&stx[144]))
}

// hiddenMountsChanged reports whether the zygote's mount table changed
// since the last call (or cannot be watched).
func hiddenMountsChanged() bool {
	if zyHidden.events == 0 {
		zyHidden.events = -1
		if fd, e := sysOpen("/proc/self/mountinfo", oRDONLY|oCLOEXEC); e == 0 {
			zyHidden.events = fd
		}
		return true
	}
	return zyHidden.events < 0 || mountTableChanged(zyHidden.events)
}

// release closes what h holds.
func (h *hiddenDir) release() {
	for _, fd := range h.fds {
		if fd >= 0 {
			sysClose(fd)
			zyHidden.fds--
		}
	}
	h.fds, h.names, h.links = nil, nil, nil
}

// hiddenEntries is dir's listing, made again when it may be out of date.
func hiddenEntries(dir string) *hiddenDir {
	key, ok := zyHidden.keys[dir]
	if !ok {
		key = hiddenKey(dir)
		if zyHidden.keys != nil {
			zyHidden.keys[ownString(dir)] = key
		}
	}
	h := zyHidden.dirs[dir]
	if h != nil && h.key == key && !h.recent {
		return h
	}
	if h != nil {
		h.release()
	}
	if zyHidden.dirs == nil {
		zyHidden.dirs = map[string]*hiddenDir{}
	}
	h = &hiddenDir{key: key}
	zyHidden.dirs[ownString(dir)] = h // dir may alias the receive buffer
	if key[7] == 0 {
		return h // absent or unreadable: nothing beneath it is granted
	}
	d, e := sysOpenNoSymlinks(dir, oRDONLY|oDIRECTORY|oCLOEXEC)
	if e != 0 {
		h.recent = true // not listable now: try again at the next launch
		return h
	}
	// Neither the directory nor an entry that is a mount point stays open:
	// a descriptor would keep that filesystem mounted (umount: EBUSY).
	eachEntry(d, func(name string, typ byte) {
		fd := -1
		if typ != dtLNK && zyHidden.fds < hiddenFDBudget {
			if f, e := openEntry(d, name); e == 0 {
				if mountID(f) == key[2] {
					fd = f
					zyHidden.fds++
				} else {
					sysClose(f)
				}
			}
		}
		h.names = append(h.names, name)
		h.links = append(h.links, typ == dtLNK)
		h.fds = append(h.fds, fd)
	})
	sysClose(d)
	var now [2]int64
	rawSyscall6(nrClockGettime, 0 /* CLOCK_REALTIME */, uintptr(unsafe.Pointer(&now[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&now)
	changed := max(int64(key[3]), int64(key[5]))
	h.recent = now[0]-changed < 2 // within the second before (or the clock moved)
	return h
}

// childMounts are the directories the child mounts over itself.
func childMounts(c *Config) []string {
	own := append([]string(nil), c.Private...)
	if c.Flags&FlagReadOnly != 0 {
		own = append(own, "/tmp")
	}
	if c.Flags&FlagProc != 0 {
		own = append(own, "/proc")
	}
	if c.Flags&FlagSysfs != 0 {
		own = append(own, "/sys")
	}
	return own
}

// planHiddenReads is restrictHiddenReads. fallback: a split directory the
// child's own mounts replace.
func (b *planner) planHiddenReads(c *Config) (fallback bool, err *StepError) {
	if c.Flags&FlagHideReads == 0 {
		return false, nil
	}
	stops, own := hiddenStops(c), childMounts(c)
	// The same hidden paths, kept directories and child mounts as the last
	// launch (every launch of a server, but for its working directory):
	// the same split, and the ruleset made ahead may serve.
	same := zyHidden.lastSplit != nil && equalPaths(c.HideRead, zyHidden.lastHidden) &&
		equalPaths(stops, zyHidden.lastStops) && equalPaths(own, zyHidden.lastOwn)
	split := zyHidden.lastSplit
	if !same {
		split, _ = hiddenSplit(c.HideRead, stops)
	}
	if len(split) == 0 {
		return false, nil
	}
	for _, d := range split {
		if beneathAny(d, own) {
			return true, nil
		}
	}
	if zy.llABI == 0 {
		return false, &StepError{Step: StepPrivate, Errno: zy.llErr, Detail: "Landlock is not available for the hidden files' read rules (landlock_create_ruleset version probe)"}
	}
	rs, mine, serr := takeHiddenReady(same)
	if serr == nil && rs < 0 {
		rs, mine, _, serr = hiddenRuleset(c.HideRead, stops, own)
	}
	if serr != nil {
		return false, serr
	}
	b.closeAfter = append(b.closeAfter, rs)
	if !same {
		// The config's strings alias the receive buffer, which is wiped
		// after the fork: what the zygote keeps is copied.
		zyHidden.lastHidden, zyHidden.lastStops, zyHidden.lastOwn = ownStrings(c.HideRead), ownStrings(stops), ownStrings(own)
		zyHidden.lastSplit = ownStrings(split)
	}
	// The child's own mounts: opened in its view, after them.
	for _, p := range mine {
		b.open(p, oPath|oCLOEXEC, 0, nil) // any error: no rule
		rule := make([]byte, 16)
		*(*uint64)(unsafe.Pointer(&rule[0])) = llReadFile
		put := b.sys(nil, 0)
		put.kind, put.ptr, put.inReg, put.when = opPutFD, unsafe.Pointer(&rule[8]), 0, 0
		o := b.sys(nil, nrLandlockAddRule, uintptr(rs), landlockRulePathBeneath, b.addr(rule))
		o.when = 0
		b.closeReg(0)
	}
	b.sys(stepErr(StepPrivate, "landlock_restrict_self (the hidden files' read rules)"), nrLandlockRestrictSelf, uintptr(rs), 0)
	return false, nil
}

// forgetHiddenOnMountChange drops every listing and the ruleset made
// ahead when the zygote's mount table changed.
func forgetHiddenOnMountChange() {
	if !hiddenMountsChanged() {
		return
	}
	for _, h := range zyHidden.dirs {
		h.release()
	}
	clear(zyHidden.dirs)
	dropHiddenReady()
}

func dropHiddenReady() {
	if zyHidden.ready.rs > 0 {
		sysClose(zyHidden.ready.rs)
	}
	zyHidden.ready.rs = -1
}

// hiddenRuleset makes a launch's ruleset from the listings (made again
// where out of date): the rules of every granted entry but the child's own
// mounts (mine, for the child to add); split: the directories it split
// (with those of the paths a hidden one leads to through a link made
// since the server resolved it: expandHidden).
func hiddenRuleset(hidden, stops, own []string) (rs int, mine, split []string, serr *StepError) {
	forgetHiddenOnMountChange()
	zyHidden.keys = map[string][8]uint64{} // one read of each directory in this build
	defer func() { zyHidden.keys = nil }()
	split, skip := hiddenSplit(expandHidden(hidden, stops, zygoteIsLink), stops)
	attr := uint64(llReadFile) | referRight(zy.llABI) // struct landlock_ruleset_attr: handled_access_fs
	r, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), 8, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return -1, nil, nil, &StepError{Step: StepPrivate, Errno: e, Detail: "landlock_create_ruleset (the hidden files' read rules)"}
	}
	rs = int(r)
	if attr&llRefer != 0 {
		if e := grantRefer(rs); e != 0 {
			sysClose(rs)
			return -1, nil, nil, &StepError{Step: StepPrivate, Errno: e, Detail: "landlock_add_rule / (links and renames, the hidden files' read rules)"}
		}
	}
	for _, dir := range split {
		if contains(skip, dir) {
			continue // a hidden directory: nothing beneath it is granted
		}
		h := hiddenEntries(dir)
		for i, name := range h.names {
			p := entryPath(dir, name)
			if h.links[i] || !grantedEntry(p, split, skip) {
				continue
			}
			if contains(own, p) {
				mine = append(mine, p)
				continue
			}
			fd := h.fds[i]
			if fd < 0 {
				if fd, e = sysOpenNoSymlinks(p, oPath|oCLOEXEC); e != 0 {
					continue
				}
				landlockAddRule(rs, fd, llReadFile)
				sysClose(fd)
				continue
			}
			landlockAddRule(rs, fd, llReadFile) // a failure leaves the entry unreadable
		}
	}
	return rs, mine, split, nil
}

// zygoteIsLink reports whether p is a symbolic link, from its directory's
// listing (a split directory: listed already, or now).
func zygoteIsLink(p string) bool {
	dir, name := splitPath(p)
	h := hiddenEntries(dir)
	for i, n := range h.names {
		if n == name {
			return h.links[i]
		}
	}
	return false
}

// prepareHidden makes the next launch's ruleset while the zygote idles,
// for the split of the last launch.
func prepareHidden() {
	if zyHidden.lastSplit == nil || zyHidden.ready.rs > 0 {
		return
	}
	rs, mine, split, serr := hiddenRuleset(zyHidden.lastHidden, zyHidden.lastStops, zyHidden.lastOwn)
	if serr != nil {
		return // the launch makes its own, and reports the failure
	}
	r := &zyHidden.ready
	r.rs, r.mine = rs, mine
	r.dirs, r.keys = r.dirs[:0], r.keys[:0]
	for _, d := range split {
		if h := zyHidden.dirs[d]; h != nil {
			r.dirs = append(r.dirs, d)
			r.keys = append(r.keys, h.key)
		}
	}
}

// takeHiddenReady returns the ruleset made ahead (rs -1: none) when it was
// made for key and nothing it rests on changed since: the mount table, and
// each split directory's identity and times (the listing it was made from
// was not made again since, nor is one due: changed within a second of it).
func takeHiddenReady(same bool) (rs int, mine []string, serr *StepError) {
	r := &zyHidden.ready
	if r.rs <= 0 {
		return -1, nil, nil
	}
	ok := same
	forgetHiddenOnMountChange()
	ok = ok && r.rs > 0
	for i, d := range r.dirs {
		h := zyHidden.dirs[d]
		ok = ok && h != nil && !h.recent && hiddenKey(d) == r.keys[i]
	}
	if !ok {
		dropHiddenReady()
		return -1, nil, nil
	}
	rs, mine = r.rs, r.mine
	r.rs = -1
	return rs, mine, nil
}

// ownString is a copy of s that shares no memory with it.
func ownString(s string) string { return string(append([]byte(nil), s...)) }

func ownStrings(l []string) []string {
	out := make([]string, len(l))
	for i, s := range l {
		out[i] = ownString(s)
	}
	return out
}
