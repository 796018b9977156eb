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

// isStage reports whether the command line is exactly [argv0, Arg].
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
	return string(b[min(end+1, len(b)):]) == Arg+"\x00"
}

func run() {
	c, err := readConfig()
	if err == nil {
		err = contain(c)
	}
	fail(err)
}

// contain applies every step in the order of SPEC 3.10 and then execs the
// target; it returns only on failure, with the step that failed. Each step
// is fatal: nothing runs half-prepared.
func contain(c *Config) *StepError {
	// (namespaces, then mounts / chroot, go here)
	if err := setRlimits(c.Rlimits); err != nil {
		return err
	}
	if err := enterDir(c.Dir); err != nil {
		return err
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
	// (capabilities, no_new_privs, Landlock, seccomp go here)
	return execTarget(c.Flags&FlagScript != 0, argv, envv)
}

// fail reports err to the parent and exits; the target never runs.
func fail(err *StepError) {
	if err != nil {
		writeAll(ReportFD, err.Encode())
	}
	sysExit(ExitFailed)
}

// readConfig reads the header and payload from the config pipe.
func readConfig() (*Config, *StepError) {
	h := make([]byte, headerSize)
	n, e := readFull(ConfigFD, h)
	if e != 0 {
		return nil, &StepError{Step: StepConfig, Errno: e, Detail: "read the config pipe"}
	}
	size, perr := payloadSize(h[:n])
	if perr != nil {
		return nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	p := make([]byte, size)
	if n, e = readFull(ConfigFD, p); e != 0 || n != size {
		return nil, &StepError{Step: StepConfig, Errno: e, Detail: "config pipe closed early"}
	}
	c, perr := decodePayload(p)
	if perr != nil {
		return nil, &StepError{Step: StepConfig, Errno: eINVAL, Detail: perr.Error()}
	}
	return c, nil
}

// enterDir changes to the launch's working directory.
func enterDir(dir string) *StepError {
	if dir == "" {
		return nil
	}
	if e := sysChdir(dir); e != 0 {
		return &StepError{Step: StepChdir, Errno: e, Detail: "chdir " + dir}
	}
	return nil
}

// closeInherited marks every descriptor above 2 close-on-exec, so execve
// leaves the target 0, 1, 2 only (execTarget re-opens one for a script).
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
// says "go". EOF (the parent closed the pipe, or died) means no.
func awaitGo() *StepError {
	writeAll(ReportFD, []byte{MsgReady})
	b := make([]byte, 1)
	n, e := readFull(ConfigFD, b)
	if e != 0 {
		return &StepError{Step: StepGate, Errno: e, Detail: "read the go byte"}
	}
	if n != 1 || b[0] != MsgGo {
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
// script's descriptor becomes fd 3, open across the exec, because the
// interpreter re-opens the script as /dev/fd/3.
func execTarget(script bool, argv, envv []*byte) *StepError {
	fd := uintptr(ExeFD)
	if script {
		if _, e := rawSyscall6(nrDup3, ExeFD, 3, 0, 0, 0, 0); e != 0 { // replaces the config pipe
			return &StepError{Step: StepExec, Errno: e, Detail: "dup the script descriptor"}
		}
		fd = 3
	}
	// Signals the stage's runtime blocked must not stay blocked in the target.
	var empty uint64
	rawSyscall6(nrRtSigprocmask, sigSetmask, uintptr(unsafe.Pointer(&empty)), 0, 8, 0, 0)
	writeAll(ReportFD, []byte{MsgExec})
	path := []byte{0}
	_, e := rawSyscall6(nrExecveat, fd, uintptr(unsafe.Pointer(&path[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envv[0])), atEmptyPath, 0)
	runtime.KeepAlive(path)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envv)
	return &StepError{Step: StepExec, Errno: e, Detail: "execveat"}
}
