//go:build linux

package stage

import (
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
	if zygoteMode {
		runZygote() // zygote_linux.go
	}
}

// zygoteMode is set for a process started as [argv0, ArgZygote].
var zygoteMode bool

// recvBlocks: a stage's recvmsg may wait long (an idle stage awaiting its
// launch) and tells the runtime so; a zygote's comes after awaitLaunch
// saw the launch on its socket, and is raw.
var recvBlocks = true

// plain is set for a stage started with ArgPlain: no keeper, nothing
// trimmed or prefaulted.
var plain bool

// isStage reports whether the command line is exactly [argv0, Arg] or
// [argv0, ArgPlain] (which sets plain).
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
	arg := string(b[min(end+1, len(b)):])
	// [argv0, Arg|ArgPlain] or [argv0, Arg|ArgPlain, ArgEgress] (the
	// egress listeners and capture prepared while idle: egressEarly).
	if rest, ok := strings_cut(arg, "\x00"+ArgEgress+"\x00"); ok {
		egressEarly = true
		arg = rest + "\x00"
	}
	plain = arg == ArgPlain+"\x00"
	zygoteMode = arg == ArgZygote+"\x00"
	return plain || arg == Arg+"\x00"
}

// strings_cut is strings.CutSuffix (the stage imports no strings package).
func strings_cut(s, suffix string) (string, bool) {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s[:len(s)-len(suffix)], true
	}
	return s, false
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
	k := uint32(0)
	if !plain {
		k = startKeeperProcess()
	}
	report := EncodeKeeper(k)
	writeAll(sock, report[:])
	if egressEarly {
		prepareEgress() // the capture's nftables commit is slow: off the launch's path
	}
	if !plain && !launchWaiting() { // idle: prepare, off any launch's path
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
func receive() (*Config, []int, *StepError) { return receiveN(SentFDs, false) }

// receiveN is receive with want descriptors (a zygote's launch has one
// more: the child's report socket), and with groups, as many more as the
// header's groups byte says (a zygote's child's cgroup.procs files); a
// stage (groups false) refuses a config that has any.
func receiveN(want int, groups bool) (*Config, []int, *StepError) {
	h := make([]byte, headerSize)
	fds := make([]int, 0, want)
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
	if g := int(h[groupsAt]); g != 0 && h[4] == version {
		if !groups || g > MaxGroupFDs {
			return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: "cgroup descriptors sent to a stage, or too many"}
		}
		want += g
	}
	if len(fds) != want {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL,
			Detail: "received " + utoa(uint64(len(fds))) + " descriptors, want " + utoa(uint64(want))}
	}
	size, perr := payloadSize(h)
	if perr != nil {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	p := payloadBuf
	if size > len(p) {
		p = make([]byte, size)
		if zygoteMode {
			payloadBuf = p // the zygote clears it after each launch (wipeLaunch)
		}
	}
	p = p[:size]
	if n, e := readFull(sock, p); e != 0 || n != size {
		return nil, nil, &StepError{Step: StepConfig, Errno: e, Detail: "socket closed early"}
	}
	c, perr := decodePayload(p, true) // p is not written again while c is in use (a zygote clears it after the fork)
	if perr != nil {
		return nil, nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	return c, fds, nil
}
