#include "textflag.h"

// func rawSyscall6(num, a1, a2, a3, a4, a5, a6 uintptr) (r1, errno uintptr)
TEXT ·rawSyscall6(SB),NOSPLIT,$0-72
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	a3+24(FP), DX
	MOVQ	a4+32(FP), R10
	MOVQ	a5+40(FP), R8
	MOVQ	a6+48(FP), R9
	MOVQ	num+0(FP), AX
	SYSCALL
	CMPQ	AX, $0xfffffffffffff001
	JLS	ok
	MOVQ	$-1, r1+56(FP)
	NEGQ	AX
	MOVQ	AX, errno+64(FP)
	RET
ok:
	MOVQ	AX, r1+56(FP)
	MOVQ	$0, errno+64(FP)
	RET

// func startKeeper(word *uint32, stack uintptr) (pid, errno uintptr)
//
// clone(CLONE_VM|CLONE_PARENT|SIGCHLD) with its own stack: the child, the
// keeper (keeper_linux.go), shares this address space and runs only the
// code below, on registers, never Go code: it closes every descriptor it
// got, waits on the futex word until it is 0 and exits. All signals are
// blocked when it is created (the caller blocks them), so no handler of
// the stage's runtime ever runs in it.
TEXT ·startKeeper(SB),NOSPLIT|NOFRAME,$0-32
	MOVQ	word+0(FP), R12
	MOVQ	$0x8111, DI	// CLONE_VM 0x100 | CLONE_PARENT 0x8000 | SIGCHLD 17
	MOVQ	stack+8(FP), SI
	MOVQ	$0, DX	// parent_tid
	MOVQ	$0, R10	// child_tid
	MOVQ	$0, R8	// tls
	MOVQ	$56, AX	// clone
	SYSCALL
	CMPQ	AX, $0
	JEQ	keeper
	CMPQ	AX, $0xfffffffffffff001
	JLS	started
	MOVQ	$-1, pid+16(FP)
	NEGQ	AX
	MOVQ	AX, errno+24(FP)
	RET
started:
	MOVQ	AX, pid+16(FP)
	MOVQ	$0, errno+24(FP)
	RET
keeper:
	MOVQ	$0, DI
	MOVQ	$0xffffffff, SI	// close_range(0, ~0U, 0)
	MOVQ	$0, DX
	MOVQ	$436, AX
	SYSCALL
wait:
	MOVL	(R12), DX
	TESTL	DX, DX
	JEQ	done
	MOVQ	R12, DI
	MOVQ	$0, SI	// FUTEX_WAIT (shared: the kernel wakes a cleared tid that way)
	MOVQ	$0, R10	// no timeout
	MOVQ	$202, AX	// futex
	SYSCALL
	JMP	wait
done:
	MOVQ	$0, DI
	MOVQ	$231, AX	// exit_group(0)
	SYSCALL
	JMP	done

// func clone3Run(args *cloneArgs, size, fn uintptr, ops *op, n, sock uintptr) (pid, errno uintptr)
//
// clone3(args, size) for a child that shares this address space
// (CLONE_VM, vmfork_linux.go) and starts on the stack args names: the
// child calls fn(ops, n, sock) there, fn being runProgram's entry in Go's
// register ABI (arguments in AX, BX, CX; X15 zero; R14 the goroutine,
// which runProgram never uses). It is called directly, not through an
// ABI0 wrapper, which a race build would make call into the runtime.
// runProgram never returns (it ends in execveat or exit_group); the child
// exits 127 if it ever did. The arguments are kept in registers the
// system call preserves (R12, R13, R15, R8), because the child has none of
// this frame.
TEXT ·clone3Run(SB),NOSPLIT|NOFRAME,$0-64
	MOVQ	fn+16(FP), R8
	MOVQ	ops+24(FP), R12
	MOVQ	n+32(FP), R13
	MOVQ	sock+40(FP), R15
	MOVQ	args+0(FP), DI
	MOVQ	size+8(FP), SI
	MOVQ	$435, AX	// clone3
	SYSCALL
	CMPQ	AX, $0
	JEQ	child
	CMPQ	AX, $0xfffffffffffff001
	JLS	started
	MOVQ	$-1, pid+48(FP)
	NEGQ	AX
	MOVQ	AX, errno+56(FP)
	RET
started:
	MOVQ	AX, pid+48(FP)
	MOVQ	$0, errno+56(FP)
	RET
child:
	// The new stack's top is 16-byte aligned. Below it, the spill area
	// the register ABI has the caller reserve for the callee's register
	// arguments (three words, rounded up to keep the alignment).
	SUBQ	$32, SP
	MOVQ	R12, AX
	MOVQ	R13, BX
	MOVQ	R15, CX
	XORPS	X15, X15
	MOVQ	(TLS), R14
	CALL	R8
vmexit:
	MOVQ	$127, DI
	MOVQ	$231, AX	// exit_group(127)
	SYSCALL
	JMP	vmexit
