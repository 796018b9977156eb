//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// Error numbers and flags (the same on every Linux architecture Go supports
// here: the asm-generic values).
const (
	eNOENT = 2
	eINTR  = 4
	eBADF  = 9
	eINVAL = 22
	eNOSYS = 38

	atFDCWD          = ^uintptr(99) // -100
	atEmptyPath      = 0x1000
	oRDONLY          = 0x0
	oCLOEXEC         = 0x80000
	oDIRECTORY       = 0x10000
	fSETFD           = 2
	fdCLOEXEC        = 1
	closeRangeCloexc = 1 << 2
	sigSetmask       = 2

	rlimitCPU    = 0
	rlimitCore   = 4
	rlimitNofile = 7
)

func sysRead(fd int, b []byte) (int, uintptr) {
	if len(b) == 0 {
		return 0, 0
	}
	n, e := rawSyscall6(nrRead, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	runtime.KeepAlive(b)
	return int(n), e
}

func sysWrite(fd int, b []byte) (int, uintptr) {
	n, e := rawSyscall6(nrWrite, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	runtime.KeepAlive(b)
	return int(n), e
}

// cstring returns s NUL-terminated.
func cstring(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

func sysOpen(path string, flags int) (int, uintptr) {
	p := cstring(path)
	fd, e := rawSyscall6(nrOpenat, atFDCWD, uintptr(unsafe.Pointer(&p[0])), uintptr(flags), 0, 0, 0)
	runtime.KeepAlive(p)
	return int(fd), e
}

func sysClose(fd int) { rawSyscall6(nrClose, uintptr(fd), 0, 0, 0, 0, 0) }

func sysChdir(path string) uintptr {
	p := cstring(path)
	_, e := rawSyscall6(nrChdir, uintptr(unsafe.Pointer(&p[0])), 0, 0, 0, 0, 0)
	runtime.KeepAlive(p)
	return e
}

// rlimit is struct rlimit64.
type rlimit struct{ cur, max uint64 }

func sysPrlimit(resource int, newLimit, old *rlimit) uintptr {
	_, e := rawSyscall6(nrPrlimit64, 0, uintptr(resource), uintptr(unsafe.Pointer(newLimit)), uintptr(unsafe.Pointer(old)), 0, 0)
	runtime.KeepAlive(newLimit)
	runtime.KeepAlive(old)
	return e
}

func sysExit(code int) {
	for {
		rawSyscall6(nrExitGroup, uintptr(code), 0, 0, 0, 0, 0)
	}
}

// readFull reads exactly len(b) bytes (fewer only at EOF or on error).
func readFull(fd int, b []byte) (int, uintptr) {
	got := 0
	for got < len(b) {
		n, e := sysRead(fd, b[got:])
		if e == eINTR {
			continue
		}
		if e != 0 {
			return got, e
		}
		if n == 0 {
			break
		}
		got += n
	}
	return got, 0
}

func writeAll(fd int, b []byte) {
	for len(b) > 0 {
		n, e := sysWrite(fd, b)
		if e == eINTR {
			continue
		}
		if e != 0 || n <= 0 {
			return
		}
		b = b[n:]
	}
}
