//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// Landlock's execute right and scopes (linux/landlock.h).
const (
	llExecute            = 1 << 0
	llScopeAbstractUnix  = 1 << 0 // ABI 6
	llScopeSignal        = 1 << 1 // ABI 6
	landlockRulesetAttr3 = 24     // handled_access_fs, handled_access_net, scoped
)

// restrictScope puts the target in a Landlock domain of its own (a second
// layer beside restrictLandlock's), which:
//   - with FlagScope, is scoped for signals and abstract unix sockets: the
//     target and its descendants can signal, and connect to the abstract
//     sockets of, only processes of their own domain;
//   - with FlagExecScope, handles execute: execve(2) anywhere in the tree
//     succeeds only for the files of c.Exec (and exe, the launch's own
//     executable), and for the ELF interpreter and #! interpreter the
//     kernel opens, which c.Exec must list;
//   - like any Landlock domain, keeps the tree from ptrace-ing a process
//     outside it (PTRACE_ATTACH, pidfd_getfd, /proc/PID/mem and environ).
//
// A path of c.Exec that does not exist is skipped (there is nothing to run).
func restrictScope(c *Config, exe int) *StepError {
	if c.Flags&(FlagScope|FlagExecScope) == 0 {
		return nil
	}
	var attr [3]uint64
	if c.Flags&FlagExecScope != 0 {
		attr[0] = llExecute
	}
	if c.Flags&FlagScope != 0 {
		attr[2] = llScopeAbstractUnix | llScopeSignal
	}
	if otherFSLayer(c) { // the tree's executables, or another layer
		abi, _ := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
		attr[0] |= referRight(abi) // links and renames stay the write layer's to decide (landlock_linux.go)
	}
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr[0])), landlockRulesetAttr3, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return &StepError{Step: StepScope, Errno: e, Detail: "landlock_create_ruleset (scoped)"}
	}
	defer sysClose(int(rs))
	if attr[0]&llRefer != 0 {
		if e := grantRefer(int(rs)); e != 0 {
			return &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule / (links and renames)"}
		}
	}
	if c.Flags&FlagExecScope != 0 {
		if e := landlockAddRule(int(rs), exe, llExecute); e != 0 {
			return &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule for the launched executable"}
		}
		for _, p := range c.Exec {
			fd, e := sysOpen(p, oPath|oCLOEXEC)
			if e == eNOENT {
				continue
			}
			if e != 0 {
				return &StepError{Step: StepScope, Errno: e, Detail: "open " + p}
			}
			// Only a regular file: a rule on a directory would let every
			// file beneath it run (a directory put in its place since the
			// list was made, for instance).
			if reg, e := isRegular(fd); e != 0 || !reg {
				sysClose(fd)
				if e != 0 {
					return &StepError{Step: StepScope, Errno: e, Detail: "statx " + p}
				}
				continue
			}
			e = landlockAddRule(int(rs), fd, llExecute)
			sysClose(fd)
			if e != 0 {
				return &StepError{Step: StepScope, Errno: e, Detail: "landlock_add_rule " + p}
			}
		}
	}
	if _, e := rawSyscall6(nrLandlockRestrictSelf, rs, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepScope, Errno: e, Detail: "landlock_restrict_self (scoped)"}
	}
	return nil
}

// isRegular reports whether fd is a regular file (statx of the descriptor).
func isRegular(fd int) (bool, uintptr) {
	t, e := fileType(fd)
	return t == sIFREG, e
}

// Of struct statx (statx(2)): STATX_TYPE, where stx_mode is, and its file
// types.
const (
	statxType       = 1
	statxModeOffset = 28 // stx_mode, a u16
	sIFMT           = 0o170000
	sIFDIR          = 0o040000
	sIFREG          = 0o100000
)

// fileType is fd's file type (stx_mode & S_IFMT), read with a statx of the
// descriptor: any descriptor, O_PATH included, with no permission needed.
func fileType(fd int) (uintptr, uintptr) {
	var stx [256]byte // struct statx
	empty := [1]byte{}
	_, e := rawSyscall6(nrStatx, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])), atEmptyPath, statxType, uintptr(unsafe.Pointer(&stx[0])), 0)
	runtime.KeepAlive(&stx)
	runtime.KeepAlive(&empty)
	if e != 0 {
		return 0, e
	}
	mode := *(*uint16)(unsafe.Pointer(&stx[statxModeOffset])) // the kernel's byte order
	return uintptr(mode) & sIFMT, 0
}
