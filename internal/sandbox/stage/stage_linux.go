//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// init turns this process into an init stage when it was started as one.
// It runs while the runtime still holds the main goroutine on the main
// thread, right after the runtime's own initialisation (this package
// imports nothing else), and never returns: it execs the target or exits.
func init() {
	if isStage() {
		run()
	}
}

// isStage reports whether the command line is exactly [argv0, Arg], or
// [argv0, Arg, ArgEgress] (then egressEarly is set).
func isStage() bool {
	fd, e := sysOpen("/proc/self/cmdline", oRDONLY|oCLOEXEC)
	if e != 0 {
		return false
	}
	b := make([]byte, 512)
	n, _ := readFull(fd, b)
	sysClose(fd)
	b = b[:n]
	end := 0
	for end < len(b) && b[end] != 0 {
		end++
	}
	switch string(b[min(end+1, len(b)):]) {
	case Arg + "\x00":
		return true
	case Arg + "\x00" + ArgEgress + "\x00":
		egressEarly = true
		return true
	}
	return false
}

// sock is the stage's socket: SocketFD until a script needs descriptor 3.
var sock = SocketFD

// payloadBuf receives a launch's config; a warm stage touches its pages
// while idle, so that receiving the launch does not fault them in.
var payloadBuf []byte

// launchWaiting reports whether the launch has already arrived on the
// socket (a stage started for a launch that found the pool empty).
func launchWaiting() bool {
	var b [1]byte
	_, e := rawSyscall6(nrRecvfrom, uintptr(sock), uintptr(unsafe.Pointer(&b[0])), 1, msgPeek|msgDontwait, 0, 0)
	return e != eAGAIN
}

// prefault writes to every page of b (fresh heap memory is mapped on first
// touch).
func prefault(b []byte) {
	for i := 0; i < len(b); i += pageSize {
		b[i] = 0
	}
}

func run() {
	// Non-dumpable first, like the server (package selfprotect): an idle
	// stage and its keeper (which shares this memory) are out of reach of
	// any process of the same uid, a running target included, also where
	// the kernel has no Landlock. The target's execve makes it dumpable
	// again, as any program.
	rawSyscall6(nrPrctl, prSetDumpable, 0, 0, 0, 0, 0)
	payloadBuf = make([]byte, 64<<10)
	closeLeaked()
	k := startKeeperProcess()
	writeAll(sock, []byte{MsgKeeper, byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)})
	if egressEarly {
		prepareEgress() // the capture's nftables commit is slow: off the launch's path
	}
	if !launchWaiting() { // idle: prepare, off any launch's path
		if k == 0 {
			// No keeper (a PID namespace's init, or no assembly for it
			// here): the exec tears the address space down itself, so
			// leave it less to tear down.
			trimMappings()
		}
		prefault(payloadBuf)
	}
	c, fds, err := receive()
	if err == nil {
		err = contain(c, fds)
	}
	fail(err)
}

// contain applies every step in the order of SPEC 3.10 and then execs the
// target; it returns only on failure, with the step that failed. Each step
// is fatal: nothing runs half-prepared.
func contain(c *Config, fds []int) *StepError {
	script := c.Flags&FlagScript != 0
	exe, err := arrangeFDs(fds, script)
	if err != nil {
		return err
	}
	if err := takeTerminal(c); err != nil {
		return err
	}
	// The namespaces exist already: the launcher cloned this stage into them.
	mac, err := openMAC(c) // while /proc is still reachable
	if err != nil {
		return err
	}
	for _, step := range []func(*Config) *StepError{setupMounts, setHostname, raiseLoopback, setupEgress, setRlimits, enterDir} {
		if err := step(c); err != nil {
			return err
		}
	}
	argv, envv, err := execArgs(c)
	if err != nil {
		return err
	}
	if err := closeInherited(); err != nil {
		return err
	}
	// The parent moves us into the launch's cgroup and writes the launch
	// audit record while we wait.
	if err := awaitGo(); err != nil {
		return err
	}
	if err := setIdentity(c); err != nil {
		return err
	}
	if err := setCaps(c); err != nil {
		return err
	}
	if err := applyMAC(mac, c); err != nil {
		return err
	}
	if err := setNoNewPrivs(c); err != nil {
		return err
	}
	if err := restrictLandlock(c); err != nil {
		return err
	}
	if err := restrictScope(c, exe); err != nil {
		return err
	}
	if err := restrictNet(c); err != nil {
		return err
	}
	if err := installSeccomp(c); err != nil {
		return err
	}
	return execTarget(exe, script, argv, envv)
}

// fail reports err to the parent and exits; the target never runs.
func fail(err *StepError) {
	if err != nil {
		writeAll(sock, err.Encode())
	}
	sysExit(ExitFailed)
}

// closeLeaked closes what the server leaked to the stage: descriptors
// above SocketFD without close-on-exec (those it inherited that way itself).
// An idle stage holds nothing of the server but its socket. Descriptors
// that the stage's own runtime opened are close-on-exec and stay.
func closeLeaked() {
	fds, e := openFDs()
	if e != 0 {
		return // closeInherited still keeps them from the target
	}
	for _, fd := range fds {
		if fd > SocketFD {
			if fl, e := rawSyscall6(nrFcntl, uintptr(fd), fGETFD, 0, 0, 0, 0); e == 0 && fl&fdCLOEXEC == 0 {
				sysClose(fd)
			}
		}
	}
}

// receive blocks (this is where a warm stage idles) until the launcher
// sends a launch: the config, whose first bytes carry the SentFDs
// descriptors. EOF before anything arrived means there will be no launch
// (the launcher closed its pool, or the server is gone): exit 0 at once.
func receive() (*Config, []int, *StepError) {
	h := make([]byte, headerSize)
	fds := make([]int, 0, SentFDs)
	got := 0
	for got < headerSize {
		n, more, ctrunc, e := recvFDs(sock, h[got:], fds)
		fds = more
		if e == eINTR {
			continue
		}
		if e != 0 {
			return nil, nil, &StepError{Step: StepConfig, Errno: e, Detail: "receive the config"}
		}
		if ctrunc {
			return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: "too many descriptors sent"}
		}
		if n == 0 {
			if got == 0 && len(fds) == 0 {
				sysExit(0)
			}
			return nil, nil, &StepError{Step: StepConfig, Detail: "socket closed early"}
		}
		got += n
	}
	if len(fds) != SentFDs {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL,
			Detail: "received " + utoa(uint64(len(fds))) + " descriptors, want " + utoa(SentFDs)}
	}
	size, perr := payloadSize(h)
	if perr != nil {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	p := payloadBuf
	if size > len(p) {
		p = make([]byte, size)
	}
	p = p[:size]
	if n, e := readFull(sock, p); e != 0 || n != size {
		return nil, nil, &StepError{Step: StepConfig, Errno: e, Detail: "socket closed early"}
	}
	c, perr := decodePayload(p, true) // p is never written again
	if perr != nil {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	return c, fds, nil
}

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

// enterDir changes to the launch's working directory.
func enterDir(c *Config) *StepError {
	dir := c.Dir
	if dir == "" {
		return nil
	}
	// By descriptor, with no symbolic link in any component: the directory
	// the policy resolved (a real path) cannot be swapped for a link to a
	// blocked one between the check and now.
	fd, e := sysOpenNoSymlinks(dir, oPathFlag|oDirectory|oCLOEXEC)
	if e != 0 {
		return &StepError{Step: StepChdir, Errno: e, Detail: "open " + dir + " (no symbolic links allowed)"}
	}
	_, e = rawSyscall6(nrFchdir, uintptr(fd), 0, 0, 0, 0, 0)
	sysClose(fd)
	if e != 0 {
		return &StepError{Step: StepChdir, Errno: e, Detail: "chdir " + dir}
	}
	return nil
}

// oPathFlag is O_PATH.
const oPathFlag = 0x200000

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

// awaitGo tells the parent every step so far succeeded and blocks until it
// says "go". EOF (the parent closed the socket, or died) means no.
func awaitGo() *StepError {
	writeAll(sock, []byte{MsgReady})
	b, ok, e := awaitByte(sock)
	if e != 0 {
		return &StepError{Step: StepGate, Errno: e, Detail: "read the go byte"}
	}
	if !ok || b != MsgGo {
		return &StepError{Step: StepGate, Detail: "the launch was withdrawn"}
	}
	return nil
}

// execArgs prepares execve's NULL-terminated vectors of NUL-terminated
// strings before the gate, so that little work remains between "go" and
// the exec.
func execArgs(c *Config) (argv, envv []*byte, _ *StepError) {
	vec := func(list []string) []*byte {
		v := make([]*byte, 0, len(list)+1)
		for _, s := range list {
			for i := 0; i < len(s); i++ {
				if s[i] == 0 {
					return nil
				}
			}
			v = append(v, &cstring(s)[0])
		}
		return append(v, nil)
	}
	if argv, envv = vec(c.Argv), vec(c.Env); argv == nil || envv == nil {
		return nil, nil, &StepError{Step: StepExec, Errno: eINVAL, Detail: "argv or environment contains a NUL byte"}
	}
	return argv, envv, nil
}

// execTarget replaces the stage with the checked executable. A binary is
// executed from its close-on-exec descriptor (closed by the exec itself); a
// script's descriptor is 3 and stays open across the exec, because the
// interpreter re-opens the script as /dev/fd/3.
func execTarget(fd int, script bool, argv, envv []*byte) *StepError {
	if script {
		if _, e := rawSyscall6(nrFcntl, uintptr(fd), fSETFD, 0, 0, 0, 0); e != 0 {
			return &StepError{Step: StepExec, Errno: e, Detail: "keep the script descriptor open"}
		}
	}
	// Signals the stage's runtime blocked must not stay blocked in the target.
	var empty uint64
	rawSyscall6(nrRtSigprocmask, sigSetmask, uintptr(unsafe.Pointer(&empty)), 0, 8, 0, 0)
	writeAll(sock, []byte{MsgExec})
	path := []byte{0}
	_, e := rawSyscall6(nrExecveat, uintptr(fd), uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), atEmptyPath, 0)
	runtime.KeepAlive(path)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	return &StepError{Step: StepExec, Errno: e, Detail: "execveat"}
}
