//go:build linux && (amd64 || arm64)

// Over 500 lines on purpose: the zygote's planner turns contain()'s steps
// for one launch into the program its forked child runs, and that plan
// must follow the steps' fixed order (contain_linux.go), which is checked
// by reading it in one place.

package stage

import (
	"runtime"
	"unsafe"
)

// ZygoteSupported: this architecture has the fork and the interpreter.
const ZygoteSupported = true

// What the zygote knows once, at its start, of every child it forks (a
// child is a copy of the zygote: the same credentials, limits and parent).
var zy struct {
	serverPid  uintptr    // the parent every child must still have
	cloneFlags uintptr    // CLONE_PARENT|SIGCHLD (tests: SIGCHLD, to wait for the child themselves), and ns
	ns         uintptr    // the namespaces every child is cloned into (ZygoteNSEnv: zygote_ns_linux.go)
	caps       [2]capData // the capability sets
	lastCap    uintptr    // the kernel's last capability
	keepCaps   uint64     // at most what a launch keeps (ZygoteCapsEnv)
	narrowed   bool       // the zygote dropped from its bounding set what no launch keeps
	bset       uint64     // the bounding set every child starts with (the zygote's)
	rlimits    [16]struct {
		lim  rlimit
		read bool
	} // the zygote's limits, by resource, once read (zygoteRlimit)
	scopeRS [2]int  // the scoped Landlock rulesets (without, with REFER granted), made once; -1: not yet
	llABI   uintptr // the Landlock ABI (0: none, llErr says why)
	llErr   uintptr
	procfd  [14]byte                // "/proc/self/fd/"
	empty   uint64                  // an empty signal set
	one     [2]byte                 // MsgReady, MsgExec
	zero    [1]byte                 // "0": the writer, in a cgroup.procs file
	seccomp []byte                  // the program installed on the zygote, which every child inherits (ZygoteSeccompEnv); nil: none
	hint    struct{ ops, keep int } // the sizes of the last plan, and some room
	path    [1]byte                 // execveat's empty path
	devnull []byte                  // "/dev/null\x00"
	tmpfs   []byte                  // "tmpfs\x00"
	modes   [2][]byte               // "mode=1777", "mode=000,size=4k"
}

// runZygote is the zygote's life: it serves launches until its socket
// closes, and never returns.
func runZygote() {
	// Its environment first: once non-dumpable, /proc/self/environ is
	// root's (an unprivileged server's zygote could no longer read it).
	ns, caps, filter, ok := zygoteNSFromEnv()
	if !ok {
		sysExit(ExitFailed)
	}
	zy.ns, zy.keepCaps = ns, caps
	rawSyscall6(nrPrctl, prSetDumpable, 0, 0, 0, 0, 0) // as a stage: out of reach of the children
	payloadBuf = make([]byte, 64<<10)
	recvBlocks = false // awaitLaunch is its blocking wait
	closeLeaked()
	if e := zygoteInit(); e != 0 {
		sysExit(ExitFailed)
	}
	if e := narrowBoundingSet(); e != 0 {
		sysExit(ExitFailed)
	}
	inheritSeccomp(filter) // refused: zy.seccomp stays nil, and each child installs the program itself
	nsPrepInit()           // the first child's namespaces (zygote_ns_linux.go)
	writeAll(sock, []byte{MsgZygote})
	for {
		awaitLaunch() // zygote_mnt_linux.go
		c, fds, err := receiveN(ZygoteFDs, true)
		if err != nil {
			writeAll(sock, err.Encode())
			sysExit(ExitFailed)
		}
		reply := serveLaunch(c, fds)
		for _, fd := range fds {
			sysClose(fd)
		}
		c = nil
		wipeLaunch()
		writeAll(sock, reply)
		awaitChildEnd()  // not beside the child's steps (zygote_defer_linux.go)
		prepareNS()      // the next child's namespaces, while idle
		prepareMountNS() // and its mount namespace (zygote_mnt_linux.go)
		prepareHidden()  // and its hidden files' read rules (zygote_hide_linux.go)
	}
}

// wipeLaunch clears the buffer a launch's config was received into, so
// that one launch's arguments and environment are not in the memory the
// next launch's child starts with (a copy of the zygote's).
func wipeLaunch() {
	clear(payloadBuf)
}

// zygoteInit reads what every child will have (zy).
func zygoteInit() uintptr {
	zy.serverPid, _ = rawSyscall6(nrGetppid, 0, 0, 0, 0, 0, 0)
	zy.cloneFlags = cloneParent | sigCHLD | zy.ns
	var e uintptr
	if zy.caps, e = capGet(); e != 0 {
		return e
	}
	for zy.lastCap = 0; zy.lastCap < 63; zy.lastCap++ {
		if _, e := rawSyscall6(nrPrctl, prCapbsetRead, zy.lastCap+1, 0, 0, 0, 0); e != 0 {
			break
		}
	}
	if e := readBoundingSet(); e != 0 {
		return e
	}
	zy.scopeRS = [2]int{-1, -1}
	zy.llABI, zy.llErr = rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
	if zy.llErr != 0 {
		zy.llABI = 0
	}
	copy(zy.procfd[:], "/proc/self/fd/")
	zy.one = [2]byte{MsgReady, MsgExec}
	zy.zero = [1]byte{'0'}
	zy.devnull, zy.tmpfs = cstring("/dev/null"), cstring("tmpfs")
	zy.modes = [2][]byte{cstring("mode=1777"), cstring("mode=000,size=4k")}
	vmInit()
	mntPrepInit()
	return 0
}

// capsMatch: c's child can get its capability sets from this zygote's, the
// bounding set included: c keeps none that the zygote dropped, and shapes
// its sets (a child without FlagCaps would inherit the narrowed set).
func capsMatch(c *Config) bool {
	return !zy.narrowed || c.Flags&FlagCaps != 0 && c.CapKeep&^zy.keepCaps == 0
}

// narrowBoundingSet drops from the zygote's bounding set, once, every
// capability no launch of its launcher keeps (zy.keepCaps), when the
// zygote may (CAP_SETPCAP): its children inherit the narrowed set, and
// planCaps drops only what is still in it. The zygote never execs, so its
// own bounding set limits nothing it does.
func narrowBoundingSet() uintptr {
	eff := uint64(zy.caps[0].effective) | uint64(zy.caps[1].effective)<<32
	if eff&(1<<capSetpcap) == 0 || zy.keepCaps == ^uint64(0) {
		return 0
	}
	for cp := uintptr(0); cp <= zy.lastCap; cp++ {
		if zy.bset&(1<<cp) != 0 && zy.keepCaps&(1<<cp) == 0 {
			if _, e := rawSyscall6(nrPrctl, prCapbsetDrop, cp, 0, 0, 0, 0); e != 0 {
				return e
			}
		}
	}
	zy.narrowed = true
	return readBoundingSet()
}

// readBoundingSet reads the zygote's bounding set into zy.bset.
func readBoundingSet() uintptr {
	zy.bset = 0
	for cp := uintptr(0); cp <= zy.lastCap; cp++ {
		in, e := rawSyscall6(nrPrctl, prCapbsetRead, cp, 0, 0, 0, 0)
		if e != 0 {
			return e
		}
		if in == 1 {
			zy.bset |= 1 << cp
		}
	}
	return 0
}

// serveLaunch plans c and forks its child; it returns the reply.
func serveLaunch(c *Config, fds []int) []byte {
	reclaimVM()
	if !Zygotable(c) || !nsMatches(c) || !capsMatch(c) {
		return []byte{MsgFallback}
	}
	// The mount namespace made ahead serves this launch or none.
	if mntPrep.use = useMountNS(c); mntPrep.use {
		defer func() { mntPrep.use = false; dropMountNS() }()
	}
	p, fallback, err := planLaunch(c, fds)
	if fallback {
		return []byte{MsgFallback}
	}
	if err != nil {
		return err.Encode()
	}
	var pid int
	var e uintptr
	flags := zy.cloneFlags
	prepared := enterPreparedNS() // namespaces made while idle: the clone3 makes only the PID one
	if prepared {
		flags &^= nsPrepared
	}
	shared := vm.on && vmSmallExec(c)
	if shared {
		// The child runs in this memory: its plan is kept as it is until
		// the child lets go of the memory (vmfork_linux.go).
		if pid, e = startVM(p, flags); e != 0 && !vm.on {
			shared = false // this kernel refuses it: fork from now on
		} else if e != 0 {
			p.wipe() // no child (clone3 failed: EAGAIN, ENOMEM): nothing of it stays
		}
	}
	if !shared {
		pid, e = forkProgram(&p.prog, flags)
		runtime.KeepAlive(p)
		// Nothing of this launch (its argv, environment, paths) stays in
		// the zygote's memory for the next child's copy of it (wipeLaunch
		// clears the received config too).
		p.wipe()
	}
	if prepared {
		leavePreparedNS()
	}
	for _, fd := range p.closeAfter {
		sysClose(fd)
	}
	if e != 0 {
		return (&StepError{Step: StepConfig, Errno: e, Detail: "fork the launch's child"}).Encode()
	}
	lastChild = pid
	r := []byte{MsgPid, 0, 0, 0, 0}
	putU32(r[1:], uint32(pid))
	return r
}

// planner builds a program; keep holds every buffer its ops point to.
type planner struct {
	prog       program
	arena      []byte // the chunk encodeErr and detail fill (kept in keep)
	keep       [][]byte
	regs       int8
	closeAfter []int
}

// addr keeps b and returns its address.
func (b *planner) addr(v []byte) uintptr {
	b.keep = append(b.keep, v)
	return uintptr(unsafe.Pointer(&v[0]))
}

// zyAddr is the address of one of zy's buffers: the zygote's own for its
// life, the same in every launch (not a launch's, so not in keep, which is
// cleared after the fork).
func zyAddr(v []byte) uintptr { return uintptr(unsafe.Pointer(&v[0])) }

func (b *planner) cstr(s string) uintptr { return b.addr(cstring(s)) }

// sys appends the system call nr(a...), failing with err (nil: errors are
// ignored).
func (b *planner) sys(err *StepError, nr uintptr, a ...uintptr) *op {
	o := op{kind: opSys, nr: nr, in: noReg, inReg: noReg, out: noReg, when: noReg}
	copy(o.a[:], a)
	if err != nil {
		enc := b.encodeErr(err)
		o.err, o.errLen = &enc[0], uintptr(len(enc))
	}
	b.prog.ops = append(b.prog.ops, o)
	return &b.prog.ops[len(b.prog.ops)-1]
}

// encodeErr is e's encoding in the plan's chunk of failure reports (one
// allocation for many; each report its own bytes, which the child that
// fails patches with the errno).
func (b *planner) encodeErr(e *StepError) []byte {
	b.room(e.EncodedSize())
	at := len(b.arena)
	b.arena = e.AppendEncode(b.arena)
	return b.arena[at:len(b.arena):len(b.arena)]
}

// room makes the plan's arena hold n more bytes without growing: a new
// chunk, kept (so wiped with the plan), when the current one is full.
func (b *planner) room(n int) {
	if cap(b.arena)-len(b.arena) < n {
		b.arena = make([]byte, 0, max(4096, n))
		b.keep = append(b.keep, b.arena[:cap(b.arena)])
	}
}

// detail is parts joined in the plan's own memory (kept, so wiped with
// the plan): a failure report naming a launch's path leaves no string of
// it in the zygote's heap for the next child's copy. Only for the errors
// of the plan's ops (encoded into it by sys), never for one planLaunch
// returns: a plan that is not forked is wiped before its error is encoded.
func (b *planner) detail(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return ""
	}
	b.room(n)
	at := len(b.arena)
	for _, p := range parts {
		b.arena = append(b.arena, p...)
	}
	return unsafe.String(&b.arena[at], n)
}

// set appends reg = v.
func (b *planner) set(reg int8, v uintptr) {
	o := b.sys(nil, 0, v)
	o.kind, o.out = opSet, reg
}

// closeReg appends the close of reg's descriptor (only when it holds one).
func (b *planner) closeReg(reg int8) {
	o := b.sys(nil, nrClose, 0)
	o.in, o.inReg, o.when = 0, reg, reg
}

// expect appends a check that the last result is v (and, with at set, the
// byte at at is ch).
func (b *planner) expect(err *StepError, v uintptr, at *byte, ch byte) {
	o := b.sys(err, 0, v, uintptr(ch))
	o.kind, o.ptr = opExpect, unsafe.Pointer(at)
}

// procFD appends the formatting of reg's descriptor as a /proc/self/fd/
// path and returns the path's address.
func (b *planner) procFD(reg int8) uintptr {
	buf := make([]byte, 32)
	copy(buf, zy.procfd[:])
	p := b.addr(buf)
	o := b.sys(nil, 0)
	o.kind, o.ptr, o.inReg, o.when = opProcFD, unsafe.Pointer(&buf[14]), reg, reg
	return p
}

func (b *planner) reg() (int8, bool) {
	if b.regs >= numRegs {
		return 0, false
	}
	b.regs++
	return b.regs - 1, true
}

// Constants of the zygote's steps.
const (
	cloneNewNS    = 0x20000
	prCapbsetRead = 23
	ePIPE         = 32
	eCONNRESET    = 104
)

func stepErr(step string, detail string) *StepError { return &StepError{Step: step, Detail: detail} }

// zygotePlan is a planned launch.
type zygotePlan struct {
	prog       program
	keep       [][]byte
	closeAfter []int // the zygote's descriptors made for this launch (a ruleset): closed after the fork
}

// planLaunch turns contain()'s steps for c into a program (fds: the
// received ZygoteFDs descriptors). fallback: c asks for something not
// planned here.
func planLaunch(c *Config, fds []int) (plan *zygotePlan, fallback bool, serr *StepError) {
	// Sized as the last plan was: a launch's plan is built in one
	// allocation of each, not in the doublings of a few hundred appends.
	b := &planner{prog: program{ops: make([]op, 0, zy.hint.ops)}, keep: make([][]byte, 0, zy.hint.keep)}
	defer func() {
		if plan == nil {
			b.closeRulesets() // made for a launch that is not forked
			// Nor is it wiped after a fork: what it copied (argv, the
			// environment, paths) goes now, not left to the next child.
			(&zygotePlan{keep: b.keep}).wipe()
		}
	}()
	b.regs = 1 // register 0 is every block's scratch descriptor
	sockFD := fds[SentFDs]
	for _, fd := range fds {
		if fd <= SocketFD {
			return nil, true, nil // cannot be: 0..3 are the zygote's own
		}
	}
	b.prog.sock = sockFD
	b.planStart()
	exe, script := b.planStdio(c, fds)
	if !b.planMounts(c) {
		return nil, true, nil
	}
	b.planHostname(c) // setHostname
	b.planLoopback(c) // raiseLoopback
	if err := b.planRlimits(c); err != nil {
		return nil, false, err
	}
	b.planDir(c)
	b.planJoin(fds[ZygoteFDs:]) // after the mounts: not the launch's to pay for
	argv, envv, err := b.vectors(c)
	if err != nil {
		return nil, false, err
	}
	b.sys(stepErr(StepFDs, "close_range"), nrCloseRange, 3, ^uintptr(0), closeRangeCloexc)
	b.planIdentity(c)
	b.planCaps(c)
	b.sys(stepErr(StepNoNewPrivs, "prctl(PR_SET_NO_NEW_PRIVS)"), nrPrctl, prSetNoNewPrivs, 1)
	if c.Flags&FlagLandlock != 0 {
		if err := b.planLandlock(c); err != nil {
			return nil, false, err
		}
	}
	if fallback, err := b.planHiddenReads(c); fallback || err != nil { // zygote_hide_linux.go
		return nil, fallback, err
	}
	if fallback, err := b.planScopes(c, fds[SentExe]); fallback || err != nil {
		return nil, fallback, err
	}
	if err := b.planSeccomp(c); err != nil {
		return nil, false, err
	}
	b.planGate(sockFD)
	b.planExec(sockFD, exe, script, argv, envv)
	zy.hint.ops, zy.hint.keep = len(b.prog.ops)+16, len(b.keep)+16
	return &zygotePlan{prog: b.prog, keep: b.keep, closeAfter: b.closeAfter}, false, nil
}

// planStart is the child's start: nothing of the zygote's socket; a
// session of its own (as a stage's Setsid); killed with the launcher's
// thread (Pdeathsig), and not run at all if the launcher is already gone.
func (b *planner) planStart() {
	b.sys(nil, nrClose, SocketFD)
	b.sys(stepErr(StepConfig, "setsid"), nrSetsid)
	b.sys(stepErr(StepConfig, "prctl(PR_SET_PDEATHSIG)"), nrPrctl, prSetPdeathsig, sigKILL)
	b.sys(nil, nrGetppid)
	b.expect(stepErr(StepConfig, "the launcher went away"), childPpid(), nil, 0)
}

// planJoin is the child joining its launch's cgroup: "0" (the writer
// itself, whatever its pid namespace) written to each cgroup.procs file the
// launcher opened (the kernel checks the opener's credentials), then the
// file closed. It comes after the mount steps, whose kernel memory (a
// mount namespace of its own copies every mount of the host: over 1 MiB
// with a few thousand) stays charged where the zygote is, as a move by the
// server after them would leave it: a launch with a small memory limit is
// not failed, nor OOM-killed with the zygote whose memory its child
// shares, by what the host's mount table costs. It comes before the
// identity, capability, Landlock and seccomp steps and nothing before it
// forks; a failed write fails the launch before the child can say ready,
// so the target never runs outside its group. The launcher no longer
// moves the child: this runs while it writes the launch record.
func (b *planner) planJoin(fds []int) {
	for _, fd := range fds {
		b.sys(stepErr(StepCgroup, "join the launch's cgroup"), nrWrite, uintptr(fd), zyAddr(zy.zero[:]), 1)
		b.sys(nil, nrClose, uintptr(fd))
	}
}

// planStdio is arrangeFDs (the received descriptors are all above 3): it
// returns the executable's descriptor in the child (3 for a script).
func (b *planner) planStdio(c *Config, fds []int) (exe int, script bool) {
	for i := 0; i < 3; i++ {
		b.sys(&StepError{Step: StepStdio, Detail: "install descriptor " + utoa(uint64(i))}, nrDup3, uintptr(fds[SentStdin+i]), uintptr(i), 0)
	}
	for i := 0; i < 3; i++ {
		b.sys(nil, nrClose, uintptr(fds[SentStdin+i]))
	}
	exe = fds[SentExe]
	script = c.Flags&FlagScript != 0
	if script {
		b.sys(stepErr(StepStdio, "make the script descriptor 3"), nrDup3, uintptr(exe), 3, 0)
		b.sys(nil, nrClose, uintptr(exe))
		exe = 3
	}
	return exe, script
}

// planMounts is setupMounts and setupPrivate: a mount namespace of the
// child's own, every mount private, the read-only filesystem, the private
// view, a fresh /proc and /sys (zygote_ns_linux.go). false: not planned
// here (the launch uses a stage).
func (b *planner) planMounts(c *Config) bool {
	if c.Flags&FlagMountNS == 0 {
		return true
	}
	if mntPrep.use {
		return b.planPreparedMounts(c) // zygote_mnt_linux.go
	}
	b.sys(stepErr(StepMounts, "unshare the mount namespace"), nrUnshare, cloneNewNS)
	b.sys(stepErr(StepMounts, "make every mount private"), nrMount, 0, b.cstr("/"), 0, msRec|msPrivate, 0)
	kept, ok := b.planReadOnly(c)
	if !ok || !b.planPrivate(c) {
		return false
	}
	b.planProc(c)
	if !b.planSysfs(c) {
		return false
	}
	for _, r := range kept {
		b.closeReg(r)
	}
	return true
}

// planDir is enterDir.
func (b *planner) planDir(c *Config) {
	if c.Dir == "" {
		return
	}
	b.openNoSymlinks(c.Dir, oPath|oDirectory|oCLOEXEC, 0, stepErr(StepChdir, b.detail("open ", c.Dir, " (no symbolic links allowed)")))
	o := b.sys(stepErr(StepChdir, b.detail("chdir ", c.Dir)), nrFchdir, 0)
	o.in, o.inReg = 0, 0
	b.closeReg(0)
}

// planGate is awaitGo: report ready, then read "go" into the child's own
// byte (it may share this memory).
func (b *planner) planGate(sockFD int) {
	o := b.sys(stepErr(StepGate, "report ready"), nrSendto, uintptr(sockFD), uintptr(unsafe.Pointer(&zy.one[0])), 1, msgNosignal, 0, 0)
	o.ok1, o.ok2 = ePIPE, eCONNRESET
	goByte := make([]byte, 1)
	b.sys(stepErr(StepGate, "read the go byte"), nrRead, uintptr(sockFD), b.addr(goByte), 1)
	b.expect(stepErr(StepGate, "the launch was withdrawn"), 1, &goByte[0], MsgGo)
}

// planScopes is restrictScope: the tree's executable rules (with the
// scopes), or the scoped domain alone (its ruleset made once).
func (b *planner) planScopes(c *Config, exe int) (fallback bool, err *StepError) {
	if c.Flags&FlagExecScope != 0 {
		return b.planExecScope(c, exe)
	}
	if c.Flags&FlagScope == 0 {
		return false, nil
	}
	// Two rulesets, each made once: with REFER handled and granted where
	// the launch has a filesystem layer anyway (landlock_linux.go).
	i := 0
	if otherFSLayer(c) {
		i = 1
	}
	if zy.scopeRS[i] < 0 {
		attr := [3]uint64{0, 0, llScopeAbstractUnix | llScopeSignal}
		if i == 1 {
			attr[0] = referRight(zy.llABI)
		}
		rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr[0])), landlockRulesetAttr3, 0, 0, 0, 0)
		runtime.KeepAlive(&attr)
		if e != 0 {
			return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_create_ruleset (scoped)"}
		}
		if attr[0] != 0 {
			if e := grantRefer(int(rs)); e != 0 {
				sysClose(int(rs))
				return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule / (links and renames)"}
			}
		}
		zy.scopeRS[i] = int(rs)
	}
	b.sys(stepErr(StepScope, "landlock_restrict_self (scoped)"), nrLandlockRestrictSelf, uintptr(zy.scopeRS[i]), 0)
	return false, nil
}

// planExec is execTarget: the script's descriptor kept open, the signal
// mask emptied, MsgExec, then execveat.
func (b *planner) planExec(sockFD, exe int, script bool, argv, envv uintptr) {
	if script {
		b.sys(stepErr(StepExec, "keep the script descriptor open"), nrFcntl, uintptr(exe), fSETFD, 0)
	}
	b.sys(nil, nrRtSigprocmask, sigSetmask, uintptr(unsafe.Pointer(&zy.empty)), 0, 8)
	b.sys(nil, nrSendto, uintptr(sockFD), uintptr(unsafe.Pointer(&zy.one[1])), 1, msgNosignal, 0, 0)
	b.sys(stepErr(StepExec, "execveat"), nrExecveat, uintptr(exe), uintptr(unsafe.Pointer(&zy.path[0])), argv, envv, atEmptyPath)
}

// wipe clears every buffer p's ops point to.
func (p *zygotePlan) wipe() {
	for _, b := range p.keep {
		clear(b)
	}
}

func (b *planner) closeRulesets() {
	for _, fd := range b.closeAfter {
		sysClose(fd)
	}
	b.closeAfter = nil
}

// planLandlock is restrictLandlock, in the child: the rules name the
// child's own mounts (its private /tmp), so the child opens each path
// after its mounts and puts the descriptor into the rule.
func (b *planner) planLandlock(c *Config) *StepError {
	if zy.llABI == 0 {
		return &StepError{Step: StepLandlock, Errno: zy.llErr, Detail: "Landlock is not available (landlock_create_ruleset version probe)"}
	}
	handled := LandlockWriteRights(int(zy.llABI))
	attr := make([]byte, 8)
	*(*uint64)(unsafe.Pointer(&attr[0])) = handled
	rs, ok1 := b.reg()
	flag, ok2 := b.reg() // set when a rule's first try failed (EINVAL: not a directory)
	if !ok1 || !ok2 {
		return &StepError{Step: StepLandlock, Errno: eINVAL, Detail: "too many descriptors to plan"}
	}
	o := b.sys(stepErr(StepLandlock, "landlock_create_ruleset"), nrLandlockCreateRuleset, b.addr(attr), 8, 0)
	o.out = rs
	rules := writeRules(c)
	for _, r := range rules {
		var err *StepError
		var ok []uintptr
		if r.required {
			err = stepErr(StepLandlock, b.detail("open ", r.path))
			if r.optional {
				ok = []uintptr{eNOENT, eLOOP}
			}
			b.openNoSymlinks(r.path, oPath|oCLOEXEC, 0, err, ok...)
		} else {
			b.open(r.path, oPath|oCLOEXEC, 0, nil) // any error: skipped
		}
		dir, file := make([]byte, 16), make([]byte, 16)
		*(*uint64)(unsafe.Pointer(&dir[0])) = handled
		*(*uint64)(unsafe.Pointer(&file[0])) = handled & (llWriteFile | llTruncate)
		for _, buf := range [][]byte{dir, file} {
			p := b.sys(nil, 0)
			p.kind, p.ptr, p.inReg = opPutFD, unsafe.Pointer(&buf[8]), 0
		}
		b.when(0, 2)
		b.set(flag, 0)
		add := stepErr(StepLandlock, b.detail("landlock_add_rule ", r.path))
		// A directory takes every right; a file (EINVAL) only those that
		// apply to files: the second rule runs only if the first failed.
		o := b.sys(add, nrLandlockAddRule, 0, landlockRulePathBeneath, b.addr(dir))
		o.in, o.inReg, o.when = 0, rs, 0
		o.ok1, o.out = eINVAL, flag
		o = b.sys(add, nrLandlockAddRule, 0, landlockRulePathBeneath, b.addr(file))
		o.in, o.inReg, o.when, o.neg = 0, rs, flag, true
		b.closeReg(0)
	}
	o = b.sys(stepErr(StepLandlock, "landlock_restrict_self"), nrLandlockRestrictSelf, 0, 0)
	o.in, o.inReg = 0, rs
	b.closeReg(rs)
	return nil
}

// planExecScope builds restrictScope's ruleset with FlagExecScope in the
// zygote (the executables are files of the host, opened here, in the view
// every child copies; one beneath a private or masked directory, which
// the child's view replaces, makes the launch use a stage): the child only
// restricts itself with it.
func (b *planner) planExecScope(c *Config, exe int) (bool, *StepError) {
	for _, p := range c.Exec {
		if beneathAny(p, c.Private) || beneathAny(p, c.Masked) {
			return true, nil
		}
	}
	var attr [3]uint64
	attr[0] = llExecute | referRight(zy.llABI) // links and renames stay the write layer's to decide (landlock_linux.go)
	if c.Flags&FlagScope != 0 {
		attr[2] = llScopeAbstractUnix | llScopeSignal
	}
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr[0])), landlockRulesetAttr3, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_create_ruleset (scoped)"}
	}
	b.closeAfter = append(b.closeAfter, int(rs))
	if attr[0]&llRefer != 0 {
		if e := grantRefer(int(rs)); e != 0 {
			return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule / (links and renames)"}
		}
	}
	if e := landlockAddRule(int(rs), exe, llExecute); e != 0 {
		return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule for the launched executable"}
	}
	for _, p := range c.Exec {
		fd, e := sysOpen(p, oPath|oCLOEXEC)
		if e == eNOENT {
			continue
		}
		if e != 0 {
			return false, &StepError{Step: StepScope, Errno: e, Detail: "open " + p}
		}
		if reg, e := isRegular(fd); e != 0 || !reg {
			sysClose(fd)
			if e != 0 {
				return false, &StepError{Step: StepScope, Errno: e, Detail: "statx " + p}
			}
			continue
		}
		e = landlockAddRule(int(rs), fd, llExecute)
		sysClose(fd)
		if e != 0 {
			return false, &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule " + p}
		}
	}
	b.sys(stepErr(StepScope, "landlock_restrict_self (scoped)"), nrLandlockRestrictSelf, rs, 0)
	return false, nil
}

// openNoSymlinks appends an openat2 of path refusing symbolic links, into
// reg; ok1, ok2 (0: none) are tolerated errnos.
func (b *planner) openNoSymlinks(path string, flags int, reg int8, err *StepError, ok ...uintptr) {
	how := make([]byte, 24)
	*(*openHow)(unsafe.Pointer(&how[0])) = openHow{flags: uint64(flags), resolve: resolveNoSymlinks | resolveNoMagiclinks}
	o := b.sys(err, nrOpenat2, atFDCWD, b.cstr(path), b.addr(how), 24)
	b.tolerate(o, ok)
	o.out = reg
}

// open appends an openat of path into reg.
func (b *planner) open(path string, flags int, reg int8, err *StepError, ok ...uintptr) {
	o := b.sys(err, nrOpenat, atFDCWD, b.cstr(path), uintptr(flags))
	b.tolerate(o, ok)
	o.out = reg
}

func (b *planner) tolerate(o *op, ok []uintptr) {
	o.ok1, o.ok2 = 0, 0
	if len(ok) > 0 {
		o.ok1 = ok[0]
	}
	if len(ok) > 1 {
		o.ok2 = ok[1]
	}
}

// when makes the last n ops run only when reg holds a descriptor.
func (b *planner) when(reg int8, n int) {
	for i := len(b.prog.ops) - n; i < len(b.prog.ops); i++ {
		b.prog.ops[i].when = reg
	}
}

// planPrivate is setupPrivate with root "/"; false: not planned here.
func (b *planner) planPrivate(c *Config) bool {
	if c.Flags&FlagPrivate == 0 {
		return true
	}
	keep, ok := b.planKeep(c)
	if !ok {
		return false
	}
	for _, d := range c.Private {
		// No jail here: c.Private are real paths, resolved at the
		// server's start; one that became a link since fails.
		b.openNoSymlinks(d, oPath|oCLOEXEC|oDirectory, 0, stepErr(StepPrivate, b.detail("open ", d)), eNOENT)
		at := b.procFD(0)
		b.sys(stepErr(StepPrivate, b.detail("mount a private tmpfs on ", d)), nrMount, zyAddr(zy.tmpfs), at, zyAddr(zy.tmpfs), msNosuid|msNodev, zyAddr(zy.modes[0]))
		b.closeReg(0)
		b.when(0, 3)
	}
	return b.planKeptSealsMasks(c, keep)
}

// planKeptSealsMasks is setupPrivate's steps 3 to 5 once the private
// directories are covered: the kept directories bound back, the policy's
// files sealed, the credentials masked, the kept descriptors closed.
// false: out of registers.
func (b *planner) planKeptSealsMasks(c *Config, keep []keptDir) bool {
	b.planBindBack(StepPrivate, keep)
	if !b.planSeals(c) {
		return false
	}
	if !b.planMasks(c) {
		return false
	}
	for _, k := range keep {
		b.closeReg(k.reg)
	}
	return true
}

// keptDir is a directory beneath a private one that is bound back, and
// the register its descriptor is opened into.
type keptDir struct {
	path string
	reg  int8
}

// planKeep opens the kept directories (c.Keep and the working directory
// beneath a private one) before the tmpfs mounts cover them. false: out
// of registers (the launch uses a stage).
func (b *planner) planKeep(c *Config) ([]keptDir, bool) {
	return b.planBeneath(StepPrivate, append(append([]string(nil), c.Keep...), c.Dir), c.Private)
}

// planBeneath is openBeneath: each of paths beneath one of under is opened
// (into a register of its own) before a tmpfs covers it, to be bound back
// over it by planBindBack; step names the failures. false: out of
// registers.
func (b *planner) planBeneath(step string, paths, under []string) ([]keptDir, bool) {
	var keep []keptDir
	for _, k := range paths {
		if k == "" || !beneathAny(k, under) {
			continue
		}
		r, ok := b.reg()
		if !ok {
			return nil, false
		}
		b.openNoSymlinks(k, oPath|oCLOEXEC|oDirectory, r,
			stepErr(step, b.detail("open ", k, " to keep it (no symbolic links allowed)")), eNOENT, eACCES)
		keep = append(keep, keptDir{k, r})
	}
	return keep, true
}

// planBindBack is bindBack: each kept directory's mount point made on the
// tmpfs and the directory bound back (when it was opened).
func (b *planner) planBindBack(step string, keep []keptDir) {
	for _, k := range keep {
		n := 0
		for i := 1; i <= len(k.path); i++ {
			if i < len(k.path) && k.path[i] != '/' {
				continue
			}
			o := b.sys(stepErr(step, b.detail("make the mount point ", k.path)), nrMkdirat, atFDCWD, b.cstr(k.path[:i]), 0o755)
			o.ok1, o.ok2 = eEXIST, 0
			n++
		}
		at := b.procFD(k.reg)
		b.sys(stepErr(step, b.detail("bind ", k.path, " back")), nrMount, at, b.cstr(k.path), 0, msBind|msRec, 0)
		b.when(k.reg, n+2)
	}
}

// planSeals is seal for each of c.Sealed. false: out of registers.
func (b *planner) planSeals(c *Config) bool {
	// Sealed (seal): a file renamed over between the open and the bind
	// (the audit log's head) is opened and bound again, once; one renamed
	// over between the bind and the read-only remount (the remount by
	// path then finds no mount: EINVAL) is sealed again from its open,
	// once. One replaced again before the bind of its second try is left
	// unsealed (ENOENT tolerated there), as seal does; a second EINVAL of
	// the remount fails the launch.
	var r [5]int8 // flag, again, redo, reopened, rebound
	for i := range r {
		reg, ok := b.reg()
		if !ok {
			return len(c.Sealed) == 0
		}
		r[i] = reg
	}
	flag, again, redo, reopened, rebound := r[0], r[1], r[2], r[3], r[4]
	for _, s := range c.Sealed {
		p := b.cstr(s)
		seal := stepErr(StepPrivate, b.detail("seal ", s, " read-only"))
		openErr := stepErr(StepPrivate, b.detail("open ", s, " to seal it"))
		b.set(flag, ^uintptr(0))
		b.open(s, oPath|oCLOEXEC, 0, openErr, eNOENT, eACCES)
		at := b.procFD(0)
		o := b.sys(seal, nrMount, at, p, 0, msBind, 0)
		o.ok1, o.out, o.when = eNOENT, flag, 0
		b.closeReg(0)
		b.set(again, ^uintptr(0))
		b.open(s, oPath|oCLOEXEC, again, openErr, eNOENT, eACCES)
		b.prog.ops[len(b.prog.ops)-1].when, b.prog.ops[len(b.prog.ops)-1].neg = flag, true
		at = b.procFD(again)
		o = b.sys(seal, nrMount, at, p, 0, msBind, 0)
		o.out, o.when, o.ok1 = flag, again, eNOENT // replaced again: flag -1, the remount skipped
		b.closeReg(again)
		b.set(redo, 0)
		o = b.sys(seal, nrMount, 0, p, 0, msRemount|msBind|msRdonly, 0)
		o.when, o.ok1, o.out = flag, eINVAL, redo
		b.set(reopened, ^uintptr(0))
		b.set(rebound, ^uintptr(0))
		b.open(s, oPath|oCLOEXEC, reopened, openErr, eNOENT, eACCES)
		b.prog.ops[len(b.prog.ops)-1].when, b.prog.ops[len(b.prog.ops)-1].neg = redo, true
		at = b.procFD(reopened)
		o = b.sys(seal, nrMount, at, p, 0, msBind, 0)
		o.out, o.when, o.ok1 = rebound, reopened, eNOENT // replaced again: rebound -1, the remount skipped
		b.closeReg(reopened)
		o = b.sys(seal, nrMount, 0, p, 0, msRemount|msBind|msRdonly, 0)
		o.when = rebound
	}
	return true
}

// planMasks is mask for each of c.Masked: the kind of file is the
// child's to find, as the stage's mask does, from the descriptor it
// opened (its statx: no permission needed on an O_PATH descriptor). A
// directory gets the tmpfs, anything else /dev/null bound; an absent one
// neither. (Trying the tmpfs and binding /dev/null on ENOTDIR, as before,
// made and dropped a tmpfs for each file hidden: 20-55 µs of the child's
// path.) false: out of registers.
func (b *planner) planMasks(c *Config) bool {
	if len(c.Masked) == 0 {
		return true
	}
	dir, ok := b.reg()
	if !ok {
		return false
	}
	file, ok := b.reg()
	if !ok {
		return false
	}
	stx := make([]byte, 256) // one statx buffer: the masks are taken one after the other
	buf := b.addr(stx)
	for _, m := range c.Masked {
		hide := stepErr(StepPrivate, b.detail("hide ", m))
		b.open(m, oPath|oCLOEXEC, 0, stepErr(StepPrivate, b.detail("open ", m, " to hide it")), eNOENT, eACCES)
		at := b.procFD(0)
		o := b.sys(hide, nrStatx, 0, zyAddr(zy.path[:]), atEmptyPath, statxType, buf)
		o.in, o.inReg, o.when = 0, 0, 0
		// dir, file: 0 for the kind m is, -1 for the other; both -1 when
		// m is absent (register 0 holds no descriptor).
		b.isKind(dir, &stx[statxModeOffset], sIFDIR, true)
		b.isKind(file, &stx[statxModeOffset], sIFDIR, false)
		o = b.sys(hide, nrMount, zyAddr(zy.tmpfs), at, zyAddr(zy.tmpfs), msRdonly|msNosuid|msNodev|msNoexec, zyAddr(zy.modes[1]))
		o.when = dir
		o = b.sys(hide, nrMount, zyAddr(zy.devnull), at, 0, msBind, 0)
		o.when = file
		o = b.sys(hide, nrMount, 0, b.cstr(m), 0, msRemount|msBind|msRdonly|msNosuid|msNodev|msNoexec, 0)
		o.when = file
		b.closeReg(0)
	}
	return true
}

// isKind appends reg = 0 when register 0 holds a descriptor (the file the
// last statx was of) and the statx mode at mode is (is true) or is not (is
// false) of file type kind, else reg = -1.
func (b *planner) isKind(reg int8, mode *byte, kind uintptr, is bool) {
	want := uintptr(0)
	if is {
		want = 1
	}
	o := b.sys(nil, 0, kind, want)
	o.kind, o.ptr, o.out, o.inReg = opIsKind, unsafe.Pointer(mode), reg, 0
}

// planRlimits is setRlimits: the limits in force are the zygote's, which
// every child has (read once: nothing changes the zygote's own).
func (b *planner) planRlimits(c *Config) *StepError {
	for _, l := range c.Rlimits {
		old, e := zygoteRlimit(l.Resource)
		if e != 0 {
			return &StepError{Step: StepRlimit, Errno: e, Resource: l.Resource, Detail: "get " + rlimitName(l.Resource)}
		}
		want := rlimit{cur: l.Cur, max: l.Max}
		if l.Max == KeepMax {
			want = rlimit{cur: min(l.Cur, old.max), max: old.max}
		}
		w := make([]byte, 16)
		*(*rlimit)(unsafe.Pointer(&w[0])) = want
		b.sys(&StepError{Step: StepRlimit, Resource: l.Resource, Max: old.max,
			Detail: "set " + rlimitName(l.Resource) + " to " + utoa(want.cur) + "/" + utoa(want.max) +
				" (hard limit in force " + utoa(old.max) + ")"}, nrPrlimit64, 0, uintptr(l.Resource), b.addr(w), 0)
	}
	return nil
}

// zygoteRlimit is the zygote's limit of resource, read at its first use.
func zygoteRlimit(resource int) (rlimit, uintptr) {
	if resource < 0 || resource >= len(zy.rlimits) {
		var old rlimit
		return old, sysPrlimit(resource, nil, &old)
	}
	r := &zy.rlimits[resource]
	if !r.read {
		if e := sysPrlimit(resource, nil, &r.lim); e != 0 {
			return rlimit{}, e
		}
		r.read = true
	}
	return r.lim, 0
}

// vectors builds execve's argv and envp (execArgs) and returns their
// addresses.
func (b *planner) vectors(c *Config) (uintptr, uintptr, *StepError) {
	vec := func(list []string) uintptr {
		v := make([]uintptr, 0, len(list)+1)
		for _, s := range list {
			for i := 0; i < len(s); i++ {
				if s[i] == 0 {
					return 0
				}
			}
			v = append(v, b.cstr(s))
		}
		v = append(v, 0)
		return b.addr(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), len(v)*int(unsafe.Sizeof(uintptr(0)))))
	}
	argv, envv := vec(c.Argv), vec(c.Env)
	if argv == 0 || envv == 0 {
		return 0, 0, &StepError{Step: StepExec, Errno: eINVAL, Detail: "argv or environment contains a NUL byte"}
	}
	return argv, envv, nil
}

// planIdentity is setIdentity: the permitted set survives the change of
// uid (PR_SET_KEEPCAPS) and is made effective again.
func (b *planner) planIdentity(c *Config) {
	if c.Flags&FlagIdentity == 0 {
		return
	}
	b.sys(stepErr(StepIdentity, "prctl(PR_SET_KEEPCAPS)"), nrPrctl, prSetKeepcaps, 1)
	b.sys(stepErr(StepIdentity, "clear the supplementary groups"), nrSetgroups, 0, 0)
	g, u := uintptr(c.GID), uintptr(c.UID)
	b.sys(stepErr(StepIdentity, "setresgid "+utoa(uint64(c.GID))), nrSetresgid, g, g, g)
	b.sys(stepErr(StepIdentity, "setresuid "+utoa(uint64(c.UID))), nrSetresuid, u, u, u)
	// The change of uid set the dumpable flag of this memory (the
	// zygote's, when the child shares it) to fs.suid_dumpable: cleared
	// again while the child still holds its permitted capabilities, which
	// keep a process of the new uid from tracing it until then.
	b.sys(stepErr(StepIdentity, "prctl(PR_SET_DUMPABLE, 0)"), nrPrctl, prSetDumpable, 0)
	b.sys(stepErr(StepIdentity, "prctl(PR_SET_KEEPCAPS, 0)"), nrPrctl, prSetKeepcaps, 0)
	b.sys(stepErr(StepIdentity, "prctl(PR_SET_PDEATHSIG)"), nrPrctl, prSetPdeathsig, sigKILL)
	b.sys(nil, nrGetppid)
	b.expect(stepErr(StepIdentity, "the launcher went away"), childPpid(), nil, 0)
	d := zy.caps
	for i := range d {
		d[i].effective = d[i].permitted
	}
	b.capset(d, stepErr(StepIdentity, "capset"))
}

func (b *planner) capset(d [2]capData, err *StepError) {
	buf := make([]byte, 8+24)
	*(*capHeader)(unsafe.Pointer(&buf[0])) = capHeader{version: capVersion3}
	*(*[2]capData)(unsafe.Pointer(&buf[8])) = d
	p := b.addr(buf)
	b.sys(err, nrCapset, p, p+8)
}

// planCaps is setCaps, with the sets the child has at that point (the
// zygote's, made effective by planIdentity when the uid changes, and the
// zygote's narrowed bounding set: only what is still in it is dropped).
func (b *planner) planCaps(c *Config) {
	if c.Flags&FlagCaps == 0 {
		return
	}
	d := zy.caps
	if c.Flags&FlagIdentity != 0 {
		for i := range d {
			d[i].effective = d[i].permitted
		}
	}
	eff := uint64(d[0].effective) | uint64(d[1].effective)<<32
	perm := uint64(d[0].permitted) | uint64(d[1].permitted)<<32
	if eff&(1<<capSetpcap) != 0 {
		for cp := uintptr(0); cp <= zy.lastCap; cp++ {
			if zy.bset&(1<<cp) != 0 && c.CapKeep&(1<<cp) == 0 {
				b.sys(stepErr(StepCaps, "drop capability "+utoa(uint64(cp))+" from the bounding set"), nrPrctl, prCapbsetDrop, cp)
			}
		}
	}
	o := b.sys(stepErr(StepCaps, "clear the ambient set"), nrPrctl, prCapAmbient, prCapAmbientClear, 0, 0, 0)
	o.ok1 = eINVAL
	keep := c.CapKeep & perm
	var k [2]capData
	for i := range k {
		v := uint32(keep >> (32 * i))
		k[i] = capData{effective: v, permitted: v, inheritable: v}
	}
	b.capset(k, stepErr(StepCaps, "capset"))
	for cp := uintptr(0); cp < 64; cp++ {
		if keep&(1<<cp) != 0 {
			b.sys(stepErr(StepCaps, "raise capability "+utoa(uint64(cp))+" in the ambient set"), nrPrctl, prCapAmbient, prCapAmbientRaise, cp, 0, 0)
		}
	}
}

// planSeccomp is installSeccomp.
func (b *planner) planSeccomp(c *Config) *StepError {
	if len(c.Seccomp) == 0 || sameBytes(c.Seccomp, zy.seccomp) {
		return nil // none, or the zygote's own, which the child has from the fork
	}
	if len(c.Seccomp)%8 != 0 || len(c.Seccomp)/8 > 4096 {
		return &StepError{Step: StepSeccomp, Errno: eINVAL, Detail: "malformed filter of " + utoa(uint64(len(c.Seccomp))) + " bytes"}
	}
	prog := make([]uint64, len(c.Seccomp)/8) // 8-byte aligned
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(c.Seccomp)), c.Seccomp)
	pb := unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(c.Seccomp))
	fp := make([]uint64, 2) // struct sock_fprog
	*(*sockFprog)(unsafe.Pointer(&fp[0])) = sockFprog{len: uint16(len(prog)), filter: &pb[0]}
	b.keep = append(b.keep, pb)
	b.sys(stepErr(StepSeccomp, "seccomp(SECCOMP_SET_MODE_FILTER)"), nrSeccomp, seccompSetModeFilter, 0,
		b.addr(unsafe.Slice((*byte)(unsafe.Pointer(&fp[0])), 16)))
	return nil
}
