//go:build linux && (amd64 || arm64)

package stage

import (
	"unsafe"
)

// A program is a launch's containment planned ahead (zygote_linux.go): the
// steps of contain(), in contain()'s order, turned into a flat list of
// system calls whose arguments are all computed before the fork. The
// forked child runs it with runProgram, which is the only code the child
// ever runs: no allocation, no stack growth, no Go runtime function, as
// in syscall.forkAndExecInChild1. It ends in the execveat of the target or
// in exit_group(ExitFailed) after writing the op's StepError on the
// report socket.

// op kinds.
const (
	opSys        = iota // the system call nr(a...)
	opExpect            // the last op's result must be a[0] (and, with ptr set, the byte at ptr must be a[1]); else fail with errno 0
	opProcFD            // format reg[inReg] as decimal at ptr (room for 11 bytes and a NUL), the tail of a "/proc/self/fd/" path
	opPutFD             // store reg[inReg] as an int32 at ptr (a Landlock rule's parent_fd)
	opSet               // reg[out] = a[0]
	opExpectWord        // the 8 bytes at ptr must be a[0] (else fail with errno 0)
	opIsKind            // reg[out] = 0 when reg[inReg] holds a descriptor and the file type in the statx mode at ptr (16 bits) is a[0] (a[1] 1) or is not (a[1] 0); else -1
)

// noReg marks an op field that names no register.
const noReg = -1

// numRegs is the number of registers (descriptors opened by the child).
const numRegs = 32

// op is one step of a program.
type op struct {
	kind  uint8
	in    int8 // opSys: the argument that takes reg[inReg]; opProcFD: the register
	inReg int8
	out   int8 // the register that gets the result (noReg: none)
	when  int8 // run only when reg[when] >= 0 (noReg: always)
	neg   bool // with when: run only when reg[when] < 0 instead
	nr    uintptr
	a     [6]uintptr
	ptr   unsafe.Pointer // opExpect, opProcFD
	// ok1, ok2 are errnos this op tolerates: the out register is set to
	// -1 and the program goes on (an absent path that is skipped).
	ok1, ok2 uintptr
	// err is the preformatted report of this op's failure (StepError.Encode,
	// errno 0): the child patches the errno into bytes 3..6. nil: the op's
	// errors are ignored (as the stage ignores them).
	err    *byte
	errLen uintptr
}

// program is what the child runs: ops and the report socket.
type program struct {
	ops  []op
	sock int
}

// runProgram runs p's ops in order in the forked child (see the top of
// this file for what it may not do). It never returns.
//
//go:nosplit
//go:norace
//go:nocheckptr
func runProgram(ops *op, n uintptr, sock uintptr) {
	var regs [numRegs]uintptr
	last := uintptr(0)
	for i := uintptr(0); i < n; i++ {
		o := (*op)(unsafe.Add(unsafe.Pointer(ops), i*unsafe.Sizeof(op{})))
		if o.when >= 0 && (int(regs[uint8(o.when)&(numRegs-1)]) < 0) != o.neg {
			continue
		}
		switch o.kind {
		case opExpect:
			ok := last == o.a[0]
			if ok && o.ptr != nil {
				ok = *(*byte)(o.ptr) == byte(o.a[1])
			}
			if !ok {
				childFail(o, 0, sock)
			}
			continue
		case opProcFD:
			putDecimal(o.ptr, regs[uint8(o.inReg)&(numRegs-1)])
			continue
		case opPutFD:
			*(*int32)(o.ptr) = int32(regs[uint8(o.inReg)&(numRegs-1)])
			continue
		case opSet:
			regs[uint8(o.out)&(numRegs-1)] = o.a[0]
			continue
		case opExpectWord:
			if *(*uint64)(o.ptr) != uint64(o.a[0]) {
				childFail(o, 0, sock)
			}
			continue
		case opIsKind:
			r := ^uintptr(0)
			if int(regs[uint8(o.inReg)&(numRegs-1)]) >= 0 && (uintptr(*(*uint16)(o.ptr))&sIFMT == o.a[0]) == (o.a[1] == 1) {
				r = 0
			}
			regs[uint8(o.out)&(numRegs-1)] = r
			continue
		}
		a := o.a
		if o.in >= 0 {
			a[uint8(o.in)%6] = regs[uint8(o.inReg)&(numRegs-1)]
		}
		r, e := rawSyscall6(o.nr, a[0], a[1], a[2], a[3], a[4], a[5])
		for e == eINTR {
			r, e = rawSyscall6(o.nr, a[0], a[1], a[2], a[3], a[4], a[5])
		}
		if e != 0 {
			if o.err != nil && e != o.ok1 && e != o.ok2 {
				childFail(o, e, sock)
			}
			r = ^uintptr(0) // -1
		}
		last = r
		if o.out >= 0 {
			regs[uint8(o.out)&(numRegs-1)] = r
		}
	}
	childFail(nil, 0, sock)
}

// childFail reports o's failure (errno e) on sock and exits ExitFailed; o
// nil: the program ended without an exec.
//
//go:nosplit
//go:norace
//go:nocheckptr
func childFail(o *op, e uintptr, sock uintptr) {
	if o != nil && o.err != nil && o.errLen >= 7 {
		b := unsafe.Pointer(o.err)
		*(*byte)(unsafe.Add(b, 3)) = byte(e)
		*(*byte)(unsafe.Add(b, 4)) = byte(e >> 8)
		*(*byte)(unsafe.Add(b, 5)) = byte(e >> 16)
		*(*byte)(unsafe.Add(b, 6)) = byte(e >> 24)
		off := uintptr(0)
		for off < o.errLen {
			w, we := rawSyscall6(nrWrite, sock, uintptr(b)+off, o.errLen-off, 0, 0, 0)
			if we == eINTR {
				continue
			}
			if we != 0 || w == 0 {
				break
			}
			off += w
		}
	}
	for {
		rawSyscall6(nrExitGroup, ExitFailed, 0, 0, 0, 0, 0)
	}
}

// putDecimal writes v in decimal and a NUL at the address at.
//
//go:nosplit
//go:norace
//go:nocheckptr
func putDecimal(at unsafe.Pointer, v uintptr) {
	var d [20]byte
	i := uintptr(20)
	for {
		i--
		*(*byte)(unsafe.Add(unsafe.Pointer(&d), i)) = byte('0' + v%10)
		v /= 10
		if v == 0 || i == 0 {
			break
		}
	}
	n := uintptr(0)
	for ; i < 20 && n < 11; i++ {
		*(*byte)(unsafe.Add(at, n)) = *(*byte)(unsafe.Add(unsafe.Pointer(&d), i))
		n++
	}
	*(*byte)(unsafe.Add(at, n)) = 0
}

//go:linkname runtime_BeforeFork syscall.runtime_BeforeFork
func runtime_BeforeFork()

//go:linkname runtime_AfterFork syscall.runtime_AfterFork
func runtime_AfterFork()

//go:linkname runtime_AfterForkInChild syscall.runtime_AfterForkInChild
func runtime_AfterForkInChild()

// Clone flags of the fork.
const (
	cloneParent = 0x8000 // the child is the server's (the zygote's parent's): it reaps it
	sigCHLD     = 17
)

// forkProgram forks a child (a copy-on-write copy of this process, one
// thread) that runs p, and returns its pid.
//
//go:norace
//go:nocheckptr
func forkProgram(p *program, flags uintptr) (int, uintptr) {
	ops, n, sock := &p.ops[0], uintptr(len(p.ops)), uintptr(p.sock)
	r, e := forkAndRun(ops, n, sock, flags)
	return int(r), e
}

// forkAndRun is forkProgram's fork, in the discipline of
// syscall.forkAndExecInChild1: every signal blocked across the clone (the
// runtime's BeforeFork), and in the child nothing but nosplit code that
// allocates nothing (AfterForkInChild resets the runtime's signal
// handlers to the default and restores the mask, as for any exec from Go).
//
//go:nosplit
//go:norace
//go:nocheckptr
func forkAndRun(ops *op, n, sock, flags uintptr) (uintptr, uintptr) {
	runtime_BeforeFork()
	r, e := rawSyscall6(nrClone, flags, 0, 0, 0, 0, 0)
	if e != 0 || r != 0 {
		runtime_AfterFork()
		return r, e
	}
	runtime_AfterForkInChild()
	runProgram(ops, n, sock)
	return 0, 0 // not reached
}
