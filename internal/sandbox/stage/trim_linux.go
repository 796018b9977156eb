//go:build linux

package stage

// trimMappings drops this process's page-table entries for its read-only
// file mappings that hold no private (modified) page: its own binary's code
// and read-only data, a shared library's code. The pages stay in the page
// cache and fault back in as the launch touches them, a small part of what
// the runtime's start touched, so the exec of the target has far fewer
// entries to tear down (the teardown of the stage's address space is most
// of an exec's cost). A warm stage does it while idle, off any launch's
// path. Nothing is lost: only clean, file-backed pages are dropped.
func trimMappings() {
	fd, e := sysOpen("/proc/self/smaps", oRDONLY|oCLOEXEC)
	if e != 0 {
		return
	}
	buf := make([]byte, 256<<10)
	n, _ := readFull(fd, buf)
	sysClose(fd)
	if n == len(buf) {
		return // too many mappings to read whole: leave them
	}
	buf = buf[:n]
	var start, end uintptr
	candidate := false
	for len(buf) > 0 {
		line := buf
		buf = nil
		for i, c := range line {
			if c == '\n' {
				line, buf = line[:i], line[i+1:]
				break
			}
		}
		if s, i := hexAt(line, 0); i > 0 && i < len(line) && line[i] == '-' {
			// A mapping's header: start-end perms offset dev inode [path].
			e, j := hexAt(line, i+1)
			start, end = s, e
			candidate = j+4 < len(line) && line[j+2] != 'w' && hasByte(line[j:], '/')
			continue
		}
		// "Anonymous: N kB" comes after the header, before the next one.
		const key = "Anonymous:"
		if candidate && len(line) > len(key) && string(line[:len(key)]) == key {
			candidate = false
			if anonZero(line[len(key):]) {
				rawSyscall6(nrMadvise, start, end-start, madvDontneed, 0, 0, 0)
			}
		}
	}
}

const madvDontneed = 4

func hasByte(b []byte, x byte) bool {
	for _, c := range b {
		if c == x {
			return true
		}
	}
	return false
}

// anonZero reports whether " N kB" is 0.
func anonZero(b []byte) bool {
	for _, c := range b {
		switch {
		case c == ' ':
		case c == '0':
			return true
		default:
			return false
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
