//go:build linux && (amd64 || arm64)

package stage

import (
	"runtime"
	"unsafe"
)

// The Landlock rules for the device files, made while the zygote idles.
//
// A launch under Landlock lets its child write the character devices of
// landlockDevices (/dev/null, /dev/zero, ...): the child opens each, tries
// a directory's rule (refused: not a directory) and then a file's, and
// closes it — four system calls per device, on the launch's path. These
// rules do not depend on the launch: a device file is the same inode in
// every child's view as in the zygote's (the private view copies the
// zygote's mount table and covers only the private directories, none of
// which holds one of these files). So after a launch that used Landlock
// the zygote makes the next child's ruleset itself, with the same rights
// the child would handle and the same two tries for each of these paths
// that is a character device in its view, and the next child adds only
// its own rules (its directory, its /tmp, the writable paths, the allowed
// directories, and any device path the zygote did not add).
//
// The made-ahead ruleset serves one child (handed over at its clone and
// closed in the zygote right after it) and only a launch whose private and
// masked paths hold none of the devices it has rules for: a masked device
// path is a different object in the child's view, and the child must get
// the rule for what it sees. A launch that cannot use it makes its own
// ruleset as before; the zygote keeps the made one for the next launch.
var llDev = struct {
	rs    int    // the ruleset for the next child; -1: none
	added uint32 // bit i: a rule for landlockDevices[i]
	want  bool   // a launch used Landlock: make one after each reply
}{rs: -1}

// prepareLandlockDevices makes the next child's ruleset with the device
// rules (while idle, after a reply); any failure leaves the child to make
// its own.
func prepareLandlockDevices() {
	if !llDev.want || llDev.rs >= 0 || zy.llABI == 0 || len(landlockDevices) > 32 {
		return
	}
	handled := LandlockWriteRights(int(zy.llABI))
	attr := handled
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), 8, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return
	}
	var dir, file [16]byte // struct landlock_path_beneath_attr: u64 rights, s32 fd (packed)
	*(*uint64)(unsafe.Pointer(&dir[0])) = handled
	*(*uint64)(unsafe.Pointer(&file[0])) = handled & (llWriteFile | llTruncate)
	var added uint32
	for i, d := range landlockDevices {
		fd, e := sysOpen(d, oPath|oCLOEXEC)
		if e != 0 {
			continue
		}
		if isCharDevice(fd) {
			// The child's two tries: a directory's rights, then a file's.
			*(*int32)(unsafe.Pointer(&dir[8])) = int32(fd)
			*(*int32)(unsafe.Pointer(&file[8])) = int32(fd)
			_, e = rawSyscall6(nrLandlockAddRule, rs, landlockRulePathBeneath, uintptr(unsafe.Pointer(&dir[0])), 0, 0, 0)
			if e == eINVAL {
				_, e = rawSyscall6(nrLandlockAddRule, rs, landlockRulePathBeneath, uintptr(unsafe.Pointer(&file[0])), 0, 0, 0)
			}
			runtime.KeepAlive(&dir)
			runtime.KeepAlive(&file)
			if e == 0 {
				added |= 1 << i
			}
		}
		sysClose(fd)
	}
	llDev.rs, llDev.added = int(rs), added
}

// takeLandlockDevices: the made-ahead ruleset, if c's child can use it
// (then it is this launch's: closed in the zygote after the fork, through
// closeAfter), else -1. Every launch under Landlock asks for one next time.
func (b *planner) takeLandlockDevices(c *Config) int {
	llDev.want = true
	if llDev.rs < 0 {
		return -1
	}
	for i, d := range landlockDevices {
		if llDev.added&(1<<i) != 0 && (beneathAny(d, c.Private) || beneathAny(d, c.Masked)) {
			return -1
		}
	}
	rs := llDev.rs
	llDev.rs = -1
	b.closeAfter = append(b.closeAfter, rs)
	return rs
}

// hasLandlockDevice: the made-ahead ruleset taken by this launch has the
// rule for path.
func hasLandlockDevice(added uint32, path string) bool {
	for i, d := range landlockDevices {
		if added&(1<<i) != 0 && d == path {
			return true
		}
	}
	return false
}

// isCharDevice reports whether fd is a character device (statx of the
// descriptor).
func isCharDevice(fd int) bool {
	var stx [256]byte // struct statx; stx_mode is the u16 at offset 28
	empty := [1]byte{}
	_, e := rawSyscall6(nrStatx, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), atEmptyPath, 1 /* STATX_TYPE */, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(&stx)
	runtime.KeepAlive(&empty)
	mode := uint16(stx[28]) | uint16(stx[29])<<8
	return e == 0 && mode&0o170000 == 0o020000
}
