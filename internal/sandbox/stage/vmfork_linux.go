//go:build linux && (amd64 || arm64)

package stage

import "unsafe"

// Performance machinery, not a security step. The zygote's children share
// its memory (clone3 with CLONE_VM, as vfork does) instead of getting a
// copy-on-write copy of it: a launch then pays neither for copying the
// zygote's page tables at the fork, nor for the copy-on-write faults (each
// with a TLB shootdown) of every page the zygote writes while the child
// waits at its gate, nor for the teardown of the copy at the target's exec
// (the exec only drops the child's reference to the shared memory). What
// the child sees and does is the fork's: it runs only runProgram, on a
// stack of its own (takeVMStack), with every signal blocked and every handler
// reset (CLONE_CLEAR_SIGHAND, the kernel's form of AfterForkInChild), and
// its steps change only its own state (credentials, namespaces, limits,
// descriptors, seccomp and Landlock are per task or per process, never per
// address space).
//
// The child reads its plan from the zygote's memory until its exec, and
// writes only into its plan's own buffers (the gate's byte, descriptor
// numbers, a failure report): so the zygote keeps each plan untouched
// until the kernel has cleared the child's word (CLONE_CHILD_CLEARTID: at
// the exec or the exit, when the child lets go of this memory), and only
// then wipes it (reclaimVM, at the next launch). The shared memory is
// never dumpable (the zygote's PR_SET_DUMPABLE 0), so no other process can
// read or write it through the child: the child's change of uid sets the
// flag to fs.suid_dumpable, and the child clears it right after its
// setresuid (planIdentity), while its permitted capabilities still keep a
// process of its new uid from tracing it; a host whose fs.suid_dumpable is
// 1 when the zygote starts gets a zygote that forks as before (vmInit). A
// launch with large strings to exec is forked too (vmSmallExec).

// cloneArgs is the kernel's struct clone_args (version 0, 64 bytes).
type cloneArgs struct {
	flags                        uint64
	_                            uint64 // pidfd
	childTID                     uint64
	_                            uint64 // parent_tid
	exitSignal, stack, stackSize uint64
	_                            uint64 // tls
}

const (
	cloneVM            = 0x100
	cloneChildClearTID = 0x200000
	cloneClearSighand  = 0x100000000
	ePERM              = 1
	e2BIG              = 7
	vmGuard            = 4 << 10  // PROT_NONE below the stack: an overflow faults
	vmStackSize        = 32 << 10 // runProgram's frames are a few hundred bytes
	vmStacksKept       = 8
	protNone           = 0
	protRead           = 1
	protWrite          = 2
	mapPrivate         = 0x2
	mapAnonymous       = 0x20
	mapStack           = 0x20000
)

// vmChild is a child that may still run in the zygote's memory.
type vmChild struct {
	word  *uint32 // 1 until the kernel clears it (the child's exec or exit)
	stack []byte  // guard page and stack, mmap'd
	plan  *zygotePlan
}

var vm struct {
	on     bool       // children share the zygote's memory
	live   []*vmChild // children that may still run in it
	stacks [][]byte   // stacks of reclaimed children, for the next ones
}

// vmInit decides whether children share the zygote's memory.
func vmInit() {
	d := suidDumpable()
	vm.on = vmForkSupported && (d == 0 || d == 2)
}

// suidDumpable reads fs.suid_dumpable (-1: unknown, taken as 1).
func suidDumpable() int {
	fd, e := sysOpen("/proc/sys/fs/suid_dumpable", oRDONLY|oCLOEXEC)
	if e != 0 {
		return -1
	}
	var b [4]byte
	n, _ := readFull(fd, b[:])
	sysClose(fd)
	if n < 1 || b[0] < '0' || b[0] > '2' {
		return -1
	}
	return int(b[0] - '0')
}

// startVM starts p's child sharing this memory: pid, or the errno of
// clone3 (vm.on is cleared when this kernel or a filter refuses the kind
// of clone, and the caller forks instead).
func startVM(p *zygotePlan, flags uintptr) (int, uintptr) {
	stack, e := takeVMStack()
	if e != 0 {
		return 0, e
	}
	word := new(uint32)
	*word = 1
	args := cloneArgs{
		flags:      cloneVM | cloneChildClearTID | cloneClearSighand | uint64(flags&(cloneParent|zygoteNS)),
		childTID:   uint64(uintptr(unsafe.Pointer(word))),
		exitSignal: uint64(flags & 0xff),
		stack:      uint64(uintptr(unsafe.Pointer(&stack[vmGuard]))),
		stackSize:  vmStackSize,
	}
	if flags&cloneParent != 0 {
		// clone3 refuses an exit signal with CLONE_PARENT: the child
		// takes the zygote's own (SIGCHLD, to the server).
		args.exitSignal = 0
	}
	r, e := vmForkAndRun(&args, &p.prog.ops[0], uintptr(len(p.prog.ops)), uintptr(p.prog.sock))
	if e != 0 {
		vm.stacks = append(vm.stacks, stack)
		if e == eNOSYS || e == ePERM || e == eINVAL || e == e2BIG {
			vm.on = false
		}
		return 0, e
	}
	vm.live = append(vm.live, &vmChild{word: word, stack: stack, plan: p})
	return int(r), 0
}

// vmForkAndRun is clone3Run with every signal blocked across it (the
// runtime's BeforeFork: the child starts with all of them blocked, and
// CLONE_CLEAR_SIGHAND leaves no handler of this runtime in it).
//
//go:nosplit
//go:norace
//go:nocheckptr
func vmForkAndRun(args *cloneArgs, ops *op, n, sock uintptr) (uintptr, uintptr) {
	runtime_BeforeFork()
	r, e := clone3Run(args, unsafe.Sizeof(*args), runProgramEntry, ops, n, sock)
	runtime_AfterFork()
	return r, e
}

// runProgramEntry is runProgram's code in Go's register ABI: a func
// value of a top-level function points to a word holding that address.
var runProgramEntry = func() uintptr {
	f := runProgram
	return **(**uintptr)(unsafe.Pointer(&f))
}()

// takeVMStack returns a guard page and a stack, reused or mapped.
func takeVMStack() ([]byte, uintptr) {
	if n := len(vm.stacks); n > 0 {
		s := vm.stacks[n-1]
		vm.stacks = vm.stacks[:n-1]
		return s, 0
	}
	const size = vmGuard + vmStackSize
	a, e := rawSyscall6(nrMmap, 0, size, protNone, mapPrivate|mapAnonymous|mapStack, ^uintptr(0), 0)
	if e != 0 {
		return nil, e
	}
	if _, e := rawSyscall6(nrMprotect, a+vmGuard, vmStackSize, protRead|protWrite, 0, 0, 0); e != 0 {
		rawSyscall6(nrMunmap, a, size, 0, 0, 0, 0)
		return nil, e
	}
	return unsafe.Slice((*byte)(unsafe.Add(nil, a)), size), 0
}

// cleared reports whether the kernel has cleared a child's word: a load
// the compiler cannot keep from an earlier one (each call reads memory).
//
//go:noinline
func cleared(w *uint32) bool { return *(*volatileU32)(unsafe.Pointer(w)) == 0 }

type volatileU32 uint32

// reclaimVM wipes the plans of the children that no longer run in this
// memory (exec'd or exited) and keeps their stacks for the next ones.
func reclaimVM() {
	live := vm.live[:0]
	for _, c := range vm.live {
		if !cleared(c.word) {
			live = append(live, c)
			continue
		}
		c.plan.wipe()
		if len(vm.stacks) < vmStacksKept {
			vm.stacks = append(vm.stacks, c.stack)
		} else {
			rawSyscall6(nrMunmap, uintptr(unsafe.Pointer(&c.stack[0])), uintptr(len(c.stack)), 0, 0, 0, 0)
		}
	}
	clear(vm.live[len(live):])
	vm.live = live
}

// vmSmallExec reports whether c's exec copies little enough (its argument
// and environment strings, which the kernel copies into the target's new
// memory before it lets go of the zygote's) for its child to share the
// zygote's memory. The exec's pages are charged to the launch's memory
// cgroup, which the child joined at its gate: when they take it over its
// limit (maxMemoryMB, 1 MiB at the least) before the exec has replaced the
// child's memory, the kernel's OOM killer (cgroup v2, memory.oom.group)
// kills every process that shares the victim's memory: the zygote and the
// children of other launches waiting at their gates. The rest of what the
// kernel charges there (page tables, the executable's first pages, a
// Landlock ruleset, a seccomp filter) stays far below 1 MiB with
// vmMaxExecStrings of strings; a launch with more is forked.
func vmSmallExec(c *Config) bool {
	n := 0
	for _, l := range [2][]string{c.Argv, c.Env} {
		for _, s := range l {
			n += len(s) + 1 + 8 // the string, its NUL, its pointer
			if n > vmMaxExecStrings {
				return false
			}
		}
	}
	return true
}

const vmMaxExecStrings = 64 << 10

// VMForkSupported: on this architecture the zygote's children share its
// memory (unless fs.suid_dumpable is 1, or the kernel refuses the clone).
const VMForkSupported = vmForkSupported
