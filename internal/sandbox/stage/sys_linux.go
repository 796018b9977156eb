//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// Error numbers and flags (the same on every Linux architecture Go supports
// here: the asm-generic values; the open flags that differ, O_DIRECTORY and
// O_NOFOLLOW, are in each architecture's file).
const (
	eNOENT  = 2
	eINTR   = 4
	eBADF   = 9
	eINVAL  = 22
	eEXIST  = 17
	eACCES  = 13
	eLOOP   = 40
	eNOSYS  = 38
	eNOTDIR = 20

	atFDCWD          = ^uintptr(99) // -100
	atEmptyPath      = 0x1000
	oRDONLY          = 0x0
	oCLOEXEC         = 0x80000
	fGETFD           = 1
	fSETFD           = 2
	fDUPFDCloexec    = 1030
	msgCtrunc        = 0x8
	msgCmsgCloexec   = 0x40000000
	solSocket        = 1
	scmRights        = 1
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

// awaitByte reads one byte, blocking (see blockingSyscall6).
func awaitByte(fd int) (byte, bool, uintptr) {
	var b [1]byte
	for {
		n, e := blockingSyscall6(nrRead, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), 1, 0, 0, 0)
		if e == eINTR {
			continue
		}
		return b[0], n == 1, e
	}
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

// openHow is struct open_how (openat2).
type openHow struct{ flags, mode, resolve uint64 }

const (
	resolveNoMagiclinks = 0x02
	resolveNoSymlinks   = 0x04
	oDirectory          = oDIRECTORY
)

// sysOpenNoSymlinks opens path refusing a symbolic link in ANY component
// (openat2 RESOLVE_NO_SYMLINKS, Linux 5.6+): paths the policy resolved
// once cannot be redirected afterwards by a symlink planted in their place.
func sysOpenNoSymlinks(path string, flags int) (int, uintptr) {
	p := cstring(path)
	how := openHow{flags: uint64(flags), resolve: resolveNoSymlinks | resolveNoMagiclinks}
	fd, e := rawSyscall6(nrOpenat2, atFDCWD, uintptr(unsafe.Pointer(&p[0])), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(&how)
	return int(fd), e
}

func sysDup3(from, to int) uintptr {
	_, e := rawSyscall6(nrDup3, uintptr(from), uintptr(to), 0, 0, 0, 0)
	return e
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

// msghdr and iovec are struct msghdr and struct iovec (the Go layout
// matches C's on 32- and 64-bit Linux).
type msghdr struct {
	name       *byte
	namelen    uint32
	iov        *iovec
	iovlen     uintptr
	control    *byte
	controllen uintptr
	flags      int32
}

type iovec struct {
	base *byte
	len  uintptr
}

// cmsgAlign rounds n up as CMSG_ALIGN does (to the size of a size_t).
func cmsgAlign(n uintptr) uintptr {
	const a = unsafe.Sizeof(uintptr(0))
	return (n + a - 1) &^ (a - 1)
}

// cmsgHdrLen is sizeof(struct cmsghdr): size_t len, int level, int type.
var cmsgHdrLen = cmsgAlign(unsafe.Sizeof(uintptr(0)) + 8)

// recvFDs reads up to len(b) bytes from fd with recvmsg, appending the
// descriptors of any SCM_RIGHTS message to fds (close-on-exec). ctrunc
// says the kernel dropped descriptors that did not fit.
func recvFDs(fd int, b []byte, fds []int) (n int, _ []int, ctrunc bool, errno uintptr) {
	var ctl [16]uintptr // room for SentFDs descriptors, and more to detect extras; aligned
	iov := iovec{base: &b[0], len: uintptr(len(b))}
	msg := msghdr{iov: &iov, iovlen: 1, control: (*byte)(unsafe.Pointer(&ctl[0])), controllen: unsafe.Sizeof(ctl)}
	call := blockingSyscall6
	if !recvBlocks {
		call = rawSyscall6
	}
	r, e := call(nrRecvmsg, uintptr(fd), uintptr(unsafe.Pointer(&msg)), msgCmsgCloexec, 0, 0, 0)
	runtime.KeepAlive(b)
	runtime.KeepAlive(&iov)
	runtime.KeepAlive(&ctl)
	if e != 0 {
		return 0, fds, false, e
	}
	// struct cmsghdr: size_t len, int level, int type, then the data; every
	// header is size_t-aligned, the data int-aligned.
	base := unsafe.Pointer(&ctl[0])
	sz := unsafe.Sizeof(uintptr(0))
	for off := uintptr(0); off+cmsgHdrLen <= msg.controllen; {
		l := *(*uintptr)(unsafe.Add(base, off))
		if l < cmsgHdrLen || off+l > msg.controllen {
			break
		}
		level, typ := *(*int32)(unsafe.Add(base, off+sz)), *(*int32)(unsafe.Add(base, off+sz+4))
		if level == solSocket && typ == scmRights {
			for p := off + cmsgHdrLen; p+4 <= off+l; p += 4 {
				fds = append(fds, int(*(*int32)(unsafe.Add(base, p))))
			}
		}
		off += cmsgAlign(l)
	}
	return int(r), fds, msg.flags&msgCtrunc != 0, 0
}
