//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

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
