//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// arrangeFDs installs the sent stdio as 0, 1, 2 and returns the
// executable's descriptor: for a script, descriptor 3 (the socket moves
// out of its way). It runs before the rlimits, while new descriptors can
// still be made whatever RLIMIT_NOFILE the launch sets.
func arrangeFDs(fds []int, script bool) (int, *StepError) {
	for i, fd := range fds {
		if fd < 3 { // installing stdio would overwrite it: move it out of the way
			nfd, e := rawSyscall6(nrFcntl, uintptr(fd), fDUPFDCloexec, 3, 0, 0, 0)
			if e != 0 {
				return -1, &StepError{Step: StepStdio, Errno: e, Detail: "move descriptor " + utoa(uint64(fd))}
			}
			fds[i] = int(nfd)
		}
	}
	for i := 0; i < 3; i++ {
		if e := sysDup3(fds[SentStdin+i], i); e != 0 {
			return -1, &StepError{Step: StepStdio, Errno: e, Detail: "install descriptor " + utoa(uint64(i))}
		}
	}
	for _, fd := range fds[SentStdin : SentStdin+3] {
		sysClose(fd)
	}
	exe := fds[SentExe]
	if !script || exe == 3 {
		return exe, nil
	}
	if sock == 3 {
		ns, e := rawSyscall6(nrFcntl, 3, fDUPFDCloexec, 4, 0, 0, 0)
		if e != 0 {
			return -1, &StepError{Step: StepStdio, Errno: e, Detail: "move the socket off descriptor 3"}
		}
		sock = int(ns)
	}
	if e := sysDup3(exe, 3); e != 0 {
		return -1, &StepError{Step: StepStdio, Errno: e, Detail: "make the script descriptor 3"}
	}
	sysClose(exe)
	return 3, nil
}

// closeInherited marks every descriptor above 2 close-on-exec, so execve
// leaves the target 0, 1, 2 only (execTarget keeps a script's 3 open).
func closeInherited() *StepError {
	_, e := rawSyscall6(nrCloseRange, 3, ^uintptr(0), closeRangeCloexc, 0, 0, 0)
	if e == 0 {
		return nil
	}
	if e != eNOSYS && e != eINVAL { // kernels before 5.11
		return &StepError{Step: StepFDs, Errno: e, Detail: "close_range"}
	}
	fds, e := openFDs()
	if e != 0 {
		return &StepError{Step: StepFDs, Errno: e, Detail: "list /proc/self/fd"}
	}
	for _, fd := range fds {
		if fd > 2 {
			if _, e := rawSyscall6(nrFcntl, uintptr(fd), fSETFD, fdCLOEXEC, 0, 0, 0); e != 0 && e != eBADF {
				return &StepError{Step: StepFDs, Errno: e, Detail: "mark fd " + utoa(uint64(fd)) + " close-on-exec"}
			}
		}
	}
	return nil
}

// openFDs lists this process's descriptors from /proc/self/fd.
func openFDs() ([]int, uintptr) {
	d, e := sysOpen("/proc/self/fd", oRDONLY|oDIRECTORY|oCLOEXEC)
	if e != 0 {
		return nil, e
	}
	defer sysClose(d)
	var fds []int
	buf := make([]byte, 4096)
	for {
		n, e := rawSyscall6(nrGetdents64, uintptr(d), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
		runtime.KeepAlive(buf)
		if e != 0 {
			return nil, e
		}
		if n == 0 {
			return fds, 0
		}
		// struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name.
		for off := 0; off < int(n); {
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			fd, ok := 0, true
			name := buf[off+19 : off+reclen]
			for i, c := range name {
				if c == 0 {
					ok = i > 0
					break
				}
				if c < '0' || c > '9' {
					ok = false
					break
				}
				fd = fd*10 + int(c-'0')
			}
			if ok && fd != d {
				fds = append(fds, fd)
			}
			off += reclen
		}
	}
}
