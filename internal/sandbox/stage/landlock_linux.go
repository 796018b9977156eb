//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// Landlock filesystem rights (linux/landlock.h).
const (
	llWriteFile  = 1 << 1
	llRemoveDir  = 1 << 4
	llRemoveFile = 1 << 5
	llMakeChar   = 1 << 6
	llMakeDir    = 1 << 7
	llMakeReg    = 1 << 8
	llMakeSock   = 1 << 9
	llMakeFifo   = 1 << 10
	llMakeBlock  = 1 << 11
	llMakeSym    = 1 << 12
	llRefer      = 1 << 13 // ABI 2
	llTruncate   = 1 << 14 // ABI 3
)

// LandlockWriteRights are the write rights handled at Landlock ABI abi
// (reads and executes are never restricted).
func LandlockWriteRights(abi int) uint64 {
	r := uint64(llWriteFile | llRemoveDir | llRemoveFile | llMakeChar | llMakeDir | llMakeReg |
		llMakeSock | llMakeFifo | llMakeBlock | llMakeSym)
	if abi >= 2 {
		r |= llRefer
	}
	if abi >= 3 {
		r |= llTruncate
	}
	return r
}

// landlockDevices are device files any program may open for writing.
var landlockDevices = []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom",
	"/dev/ptmx", "/dev/pts", "/dev/shm"}

// restrictLandlock confines writes to the working directory, /tmp, the
// writable paths and the harmless devices; reads stay allowed everywhere.
func restrictLandlock(c *Config) *StepError {
	if c.Flags&FlagLandlock == 0 {
		return nil
	}
	abi, e := rawSyscall6(nrLandlockCreateRuleset, 0, 0, landlockCreateRulesetVersion, 0, 0, 0)
	if e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "Landlock is not available (landlock_create_ruleset version probe)"}
	}
	handled := LandlockWriteRights(int(abi))
	attr := handled // struct landlock_ruleset_attr: handled_access_fs first
	rs, e := rawSyscall6(nrLandlockCreateRuleset, uintptr(unsafe.Pointer(&attr)), 8, 0, 0, 0, 0)
	runtime.KeepAlive(&attr)
	if e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_create_ruleset"}
	}
	defer sysClose(int(rs))
	rules := writeRules(c)
	for _, r := range rules {
		open := sysOpen
		if r.required {
			open = sysOpenNoSymlinks
		}
		fd, e := open(r.path, oPath|oCLOEXEC)
		if e != 0 {
			if !r.required || (r.optional && (e == eNOENT || e == eLOOP)) {
				continue
			}
			return &StepError{Step: StepLandlock, Errno: e, Detail: "open " + r.path}
		}
		e = landlockAddRule(int(rs), fd, handled)
		if e == eINVAL { // not a directory: only the rights that apply to files
			e = landlockAddRule(int(rs), fd, handled&(llWriteFile|llTruncate))
		}
		sysClose(fd)
		if e != 0 {
			return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_add_rule " + r.path}
		}
	}
	if _, e := rawSyscall6(nrLandlockRestrictSelf, rs, 0, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepLandlock, Errno: e, Detail: "landlock_restrict_self"}
	}
	return nil
}

// landlockAddRule adds a path_beneath rule (the struct is packed: u64
// allowed_access, s32 parent_fd).
func landlockAddRule(ruleset, fd int, allowed uint64) uintptr {
	var a [12]byte
	for i := 0; i < 8; i++ {
		a[i] = byte(allowed >> (8 * i))
	}
	for i := 0; i < 4; i++ {
		a[8+i] = byte(uint32(fd) >> (8 * i))
	}
	_, e := rawSyscall6(nrLandlockAddRule, uintptr(ruleset), landlockRulePathBeneath, uintptr(unsafe.Pointer(&a[0])), 0, 0, 0)
	runtime.KeepAlive(&a)
	return e
}

// writeRule is one path a child may write beneath.
type writeRule struct {
	path     string
	required bool // the agent's paths: opened with no symbolic link allowed
	optional bool // with required: skipped when absent or a link
}

// writeRules is where Landlock lets a child write, in the order both the
// stage and the zygote's program add the rules: the working directory (the
// one enterDir verified and entered, "."), /tmp, writablePaths, the allowed
// working directories, the device files.
func writeRules(c *Config) []writeRule {
	rules := []writeRule{{".", true, false}, {"/tmp", false, false}}
	for _, w := range c.Writable {
		rules = append(rules, writeRule{w, true, false})
	}
	for _, d := range c.Dirs {
		rules = append(rules, writeRule{d, true, true})
	}
	for _, d := range landlockDevices {
		rules = append(rules, writeRule{d, false, false})
	}
	return rules
}

// Every layer of a Landlock domain that handles a filesystem right refuses
// a link or a rename into another directory (LANDLOCK_ACCESS_FS_REFER)
// unless it handles REFER itself and a rule grants it: the kernel counts
// REFER as handled by every layer. So each of our layers but the write
// layer (which grants REFER where the child may write) handles REFER at
// ABI 2 and grants it beneath the view's root: where a file may be linked
// or moved stays the write layer's decision (and, in each layer, the
// kernel's "no more access": a file never gains a right by moving). A
// layer with no filesystem right (the scopes, the TCP rules) would become
// one that way, and a domain with a filesystem right also refuses
// mount(2): such a layer takes REFER only when the launch has a filesystem
// layer anyway (otherFSLayer). Without ABI 2 no layer can grant REFER, and
// the kernel refuses every such link or rename (EXDEV).

// referRight is llRefer where Landlock has it (ABI 2), else 0.
func referRight(abi uintptr) uint64 {
	if abi >= 2 {
		return llRefer
	}
	return 0
}

// otherFSLayer: the launch's domain has a filesystem layer besides the
// scopes and the TCP rules (the write layer, the tree's executables; the
// read layer comes only with the write layer).
func otherFSLayer(c *Config) bool { return c.Flags&(FlagLandlock|FlagExecScope) != 0 }

// grantRefer adds to rs the rule that grants REFER beneath the root of the
// caller's view.
func grantRefer(rs int) uintptr {
	root, e := sysOpen("/", oPath|oCLOEXEC|oDirectory)
	if e != 0 {
		return e
	}
	e = landlockAddRule(rs, root, llRefer)
	sysClose(root)
	return e
}
