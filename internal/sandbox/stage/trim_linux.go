//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// trimMappings drops this process's page-table entries for its read-only
// file mappings that hold no private (modified) page: its own binary's code
// and read-only data, a shared library's code. The pages stay in the page
// cache and fault back in as the launch touches them, a small part of what
// the runtime's start touched, so the exec of the target has fewer entries
// to tear down (the teardown of the stage's address space is the larger
// part of an exec from it). A warm stage does it while idle, off any
// launch's path (a stage whose launch is already waiting skips it). Nothing
// is lost: a mapping is dropped only when /proc/self/pagemap shows every
// present page of it to be the file's own (a relocated, copied-on-write
// page would be lost, so a mapping with one is left alone).
func trimMappings() {
	maps, e := sysOpen("/proc/self/maps", oRDONLY|oCLOEXEC)
	if e != 0 {
		return
	}
	buf := make([]byte, 64<<10)
	n, _ := readFull(maps, buf)
	sysClose(maps)
	if n == len(buf) {
		return // too many mappings to read whole: leave them
	}
	pagemap, e := sysOpen("/proc/self/pagemap", oRDONLY|oCLOEXEC)
	if e != 0 {
		return
	}
	defer sysClose(pagemap)
	entries := make([]uint64, 512)
	for rest := buf[:n]; len(rest) > 0; {
		line := rest
		rest = nil
		for i, c := range line {
			if c == '\n' {
				line, rest = line[:i], line[i+1:]
				break
			}
		}
		// start-end perms offset dev inode [path]
		start, i := hexAt(line, 0)
		if i == 0 || i >= len(line) || line[i] != '-' {
			continue
		}
		end, j := hexAt(line, i+1)
		if j+4 >= len(line) || line[j+2] == 'w' || !hasByte(line[j:], '/') || end <= start {
			continue
		}
		if onlyFilePages(pagemap, start, end, entries) {
			rawSyscall6(nrMadvise, start, end-start, madvDontneed, 0, 0, 0)
		}
	}
}

const (
	madvDontneed  = 4
	pageSize      = 4096
	pmPresent     = 1 << 63
	pmFileOrShare = 1 << 61
	msgPeek       = 0x2
	msgDontwait   = 0x40
	eAGAIN        = 11
)

// onlyFilePages reports whether every present page of [start, end) is a
// page of the mapped file (none is a private copy).
func onlyFilePages(pagemap int, start, end uintptr, entries []uint64) bool {
	for page := start / pageSize; page < end/pageSize; {
		n := min(uintptr(len(entries)), end/pageSize-page)
		got, e := rawSyscall6(nrPread64, uintptr(pagemap), uintptr(unsafe.Pointer(&entries[0])), n*8, page*8, 0, 0)
		runtime.KeepAlive(entries)
		if e != 0 || got != n*8 {
			return false
		}
		for _, pm := range entries[:n] {
			if pm&pmPresent != 0 && pm&pmFileOrShare == 0 {
				return false
			}
		}
		page += n
	}
	return true
}

func hasByte(b []byte, x byte) bool {
	for _, c := range b {
		if c == x {
			return true
		}
	}
	return false
}

// hexAt parses the lower-case hex number at b[i:], returning it and the
// index after it (i when there is none).
func hexAt(b []byte, i int) (uintptr, int) {
	var v uintptr
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | uintptr(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uintptr(c-'a'+10)
		default:
			return v, i
		}
	}
	return v, i
}
