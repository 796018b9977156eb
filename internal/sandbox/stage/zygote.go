package stage

// The zygote (a fork server) is a long-lived init stage that starts no Go
// runtime per launch: it plans each launch (every step of contain() for
// that config turned into a flat program of system calls, prog_linux.go)
// and forks a child that runs only that program and execs the target
// (zygote_linux.go). The launcher speaks to it on its socket (SocketFD):
//
//   - at its start the zygote writes MsgZygote;
//   - per launch the launcher sends a config exactly as to a stage, with
//     ZygoteFDs descriptors: the SentFDs ones, then the child's end of a
//     fresh socketpair (its report socket: MsgReady, MsgGo, MsgExec,
//     MsgError, as a stage's), then, when the launch has a cgroup, the
//     cgroup.procs file of each of its group's directories, opened for
//     writing by the launcher (SetGroups says how many: at most
//     MaxGroupFDs): the child writes "0" to each, joining the group
//     itself after its mount steps and before its identity (planJoin),
//     and cannot say ready without;
//   - the zygote answers MsgPid and the child's pid (a little-endian u32;
//     the child is the launcher's process' child, CLONE_PARENT), or
//     MsgFallback (the config asks for a step the zygote does not plan:
//     the launch must use a stage), or MsgError with a StepError (a step
//     failed while planning: nothing was forked).
//
// EOF on its socket ends the zygote (exit 0), and so does its parent's
// death (Pdeathsig).

// ArgZygote is the hidden subcommand that makes a process a zygote.
const ArgZygote = Arg + "_zygote"

// ZygoteFDs is how many descriptors come with each launch sent to a zygote,
// before its cgroup.procs descriptors.
const ZygoteFDs = SentFDs + 1

// MaxGroupFDs bounds the cgroup.procs descriptors of a launch: one per
// hierarchy (cgroup v2, and the v1 controllers).
const MaxGroupFDs = 8

// SetGroups marks an encoded config b (Config.Encode) as followed by n
// cgroup.procs descriptors after the ZygoteFDs; false when b is not a
// config of this version or n is out of range.
func SetGroups(b []byte, n int) bool {
	if !encodedConfig(b, headerSize) || n < 0 || n > MaxGroupFDs {
		return false
	}
	b[groupsAt] = byte(n)
	return true
}

// Zygote messages.
const (
	MsgZygote   = 'Z' // zygote → launcher, once, at its start
	MsgPid      = 'P' // followed by the child's pid, u32
	MsgFallback = 'F' // not planned here: use a stage
)

// ZygoteFlags are the config flags a zygote plans; a config with any other
// flag (or with Root, MACPath or compose lists) falls back to a stage, and
// so does a tree scope with an executable beneath a private or masked
// directory, a /sys the private view touches, or namespace steps (FlagProc,
// FlagLoopback, FlagSysfs, Hostname) other than those of the namespaces
// the zygote was started to give its children (ZygoteNSEnv;
// zygote_linux.go, zygote_ns_linux.go).
const ZygoteFlags = FlagScript | FlagMountNS | FlagCaps | FlagIdentity | FlagScope | FlagPrivate | FlagLandlock | FlagExecScope |
	FlagProc | FlagLoopback | FlagSysfs | FlagReadOnly | FlagHideReads

// ZygoteNSEnv names the zygote's environment variable that gives, in
// decimal, the clone flags of the per-launch namespaces (CLONE_NEWPID,
// CLONE_NEWNET, CLONE_NEWUTS, CLONE_NEWIPC) every child of this zygote is
// cloned into; absent: none. The launcher sets it from its isolation.
const ZygoteNSEnv = "MCP_PROCESS_ZYGOTE_NS"

// ZygoteCapsEnv names the zygote's environment variable that gives, in
// decimal, the capability mask (bit N: capability N) that every launch the
// zygote serves keeps at most (the launcher's isolation's); absent: any.
// The zygote drops every other capability from its own bounding set once,
// at its start, so that its children inherit the set they would otherwise
// drop one system call per capability; a launch that would keep a
// capability the zygote dropped goes to a stage.
const ZygoteCapsEnv = "MCP_PROCESS_ZYGOTE_CAPS"

// ZygoteSeccompEnv names the zygote's environment variable that gives, in
// hexadecimal, the seccomp program (a struct sock_filter array) of the
// launcher's isolation when it is the baseline alone; absent: none. The
// zygote installs it on itself at its start, on every one of its threads
// (with no_new_privs, which every launch sets anyway before its exec), so
// that each child inherits it from the fork on instead of installing its
// own: a launch whose program is byte for byte this one skips its seccomp
// step. A zygote whose kernel refuses it runs without it, and each child
// installs the program itself, as a launch under a profile does. A
// profile's program is never given
// here: a launch under a profile installs it itself, as a stage does, so
// that it runs under that one filter only.
const ZygoteSeccompEnv = "MCP_PROCESS_ZYGOTE_SECCOMP"

// MaxZygoteSeccomp bounds the program ZygoteSeccompEnv may carry, in
// instructions (its environment is read into a page).
const MaxZygoteSeccomp = 128

// Zygotable reports whether a zygote plans c (the launcher asks before
// sending; the zygote asks again, and checks the namespace steps against
// its children's namespaces).
func Zygotable(c *Config) bool {
	return c.Flags&^ZygoteFlags == 0 && c.Root == "" && c.MACPath == "" &&
		len(c.ComposeRO) == 0 && len(c.ComposeRW) == 0 && len(c.ComposeLinks) == 0
}
