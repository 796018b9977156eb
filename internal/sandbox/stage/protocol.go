// Package stage is the init stage of every launch: a re-exec of the
// server's own binary (/proc/self/exe with the hidden argument Arg) that
// prepares the child, step by step in one fixed order, and only then
// replaces itself with the target by execveat(2) of the descriptor the
// policy checked.
//
// At its start a stage reports its keeper (keeper_linux.go), a process
// that holds its address space so that the exec of the target does not
// tear it down.
//
// A stage is usually started ahead of its launch (the launcher keeps a few
// warm): it then idles, blocked on its socket, holding nothing but that
// socket and /dev/null as 0, 1, 2, until the launcher sends a config with
// the executable and the target's stdio. The steps run only after that, in
// the order of the list steps (contain_linux.go, SPEC 3.10), each in the
// file of its subsystem; the gate ("go") comes after every step, seccomp
// last among them: only execveat is left after it. The namespaces themselves exist before the stage runs: the
// launcher clones it into them (and a stage started with ArgEgress opens the
// egress listeners and installs the capture at its start, before any
// launch).
//
// Guarantees: the target never runs if any step failed (the stage reports
// the step, the errno and a message on its socket and exits 127); it never
// runs before the parent says "go" (and never if the parent goes away
// first: EOF means no); it gets exactly the argv, environment and working
// directory of its config, the sent stdio as descriptors 0, 1, 2 (plus, for
// a "#!" script, the script's descriptor 3, which the interpreter re-opens)
// and nothing else of the stage. The stage never writes to stdout or
// stderr: they belong to the target.
//
// The package imports nothing but unsafe and runtime (system calls are
// made in assembly), so that in a program's package initialisation order it
// comes right after the runtime: a launch does not pay for initialising the
// rest of the server before the stage runs.
//
// This file is the wire protocol shared by the parent (package sandbox) and
// the stage. It is versioned; both sides are always the same binary, so a
// version mismatch is a bug, reported as such.
package stage

// Over 500 lines on purpose: the package's doc and the one definition of
// the launcher-stage protocol (messages, the config's encoding and
// decoding, step names), which both sides must read alike.

// Over 500 lines on purpose: the whole launcher-stage wire format (the
// reports, the config, the step error), each encoder next to its decoder,
// so that a change to the format is one reviewable diff; a third of it is
// the package doc above.

import "unsafe"

// Arg is the hidden subcommand that makes a process an init stage. It
// cannot collide with a user subcommand (none starts with "__").
const Arg = "__mcp_process_init"

// ArgPlain makes a process an init stage without the performance
// machinery: no keeper, nothing trimmed or prefaulted. Its steps and their
// order are Arg's; tests compare the two (LauncherOptions.Plain).
const ArgPlain = Arg + "_plain"

// ArgEgress, after Arg, tells a stage cloned into a new network namespace
// for launches with FlagEgress to open the egress listeners and install the
// capture at its start, before any launch (a warm stage does it while
// idle); the launch's FlagEgress step then only sends them.
const ArgEgress = "egress"

// SocketFD is the stage's end of its socketpair (SOCK_STREAM) with the
// launcher, its only descriptor besides 0, 1, 2 (/dev/null until a launch).
// The stage blocks on it until the launcher sends a launch: the config with
// the descriptors SentFDs, then, after the stage reported ready, the "go"
// byte. The stage reports on it too; the exec closes it (close-on-exec), which
// the launcher reads as EOF. EOF before a config (the launcher closed the pool
// or died) makes the stage exit 0 at once.
const SocketFD = 3

// Descriptors sent with the config (SCM_RIGHTS), in this order.
const (
	SentExe    = iota // the checked executable, opened read-only
	SentStdin         // the target's stdin
	SentStdout        // the target's stdout
	SentStderr        // the target's stderr
	SentFDs           // how many
)

// Report messages, stage → parent, one write each.
const (
	MsgKeeper = 'K' // first, at the stage's start: u32 pid of its keeper (0: none)
	MsgReady  = 'R' // every step before the gate succeeded; waiting for "go"
	MsgExec   = 'X' // "go" received; execveat comes next (then EOF)
	MsgError  = 'E' // followed by an encoded StepError; the stage exits 127
	MsgGo     = 'G' // parent → stage, after MsgReady
	// MsgNet (FlagEgress), before MsgReady: one status byte (NetCaptured),
	// the NetFDs listeners attached (SCM_RIGHTS).
	MsgNet = 'N'
)

// KeeperSize is the length of the MsgKeeper report.
const KeeperSize = 5

// EncodeKeeper is the stage's first report: MsgKeeper, then the pid of its
// keeper (0: none) as a little-endian u32.
func EncodeKeeper(pid uint32) [KeeperSize]byte {
	b := [KeeperSize]byte{MsgKeeper}
	putU32(b[1:], pid)
	return b
}

// DecodeKeeper returns the keeper's pid (0: none) from a MsgKeeper report,
// and false when b is another message.
func DecodeKeeper(b [KeeperSize]byte) (pid int, ok bool) {
	if b[0] != MsgKeeper {
		return 0, false
	}
	return int(getU32(b[1:])), true
}

// ExitFailed is the stage's exit status after a failed step.
const ExitFailed = 127

// Flags of a Config.
const (
	// FlagScript: the executable starts with "#!", so its descriptor must
	// survive execve (the kernel hands the interpreter /dev/fd/N).
	FlagScript uint32 = 1 << iota
	// FlagMountNS: the stage is in a mount namespace of its own; it makes
	// every mount private before anything else.
	FlagMountNS
	// FlagProc: mount a fresh /proc (the stage is PID 1 of a new PID
	// namespace and FlagMountNS is set).
	FlagProc
	// FlagLoopback: bring up lo (the stage is in a new network namespace).
	FlagLoopback
	// FlagReadOnly: every mount read-only, a private tmpfs on /tmp
	// (TmpfsMB), Writable left writable.
	FlagReadOnly
	// FlagCaps: set the capability sets to CapKeep (and the bounding set,
	// when the stage may).
	FlagCaps
	// FlagLandlock: writes only beneath Dir, /tmp and Writable.
	FlagLandlock
	// FlagIdentity: clear the supplementary groups and become UID/GID
	// (right after the gate, before the capabilities are set).
	FlagIdentity
	// FlagScope: a Landlock domain scoped for signals and abstract unix
	// sockets (ABI 6): the target cannot signal, or connect to an abstract
	// socket of, any process outside its own domain. Any Landlock domain
	// also keeps it from ptrace-ing (pidfd_getfd, /proc/PID/mem, environ)
	// a process outside it.
	FlagScope
	// FlagExecScope: in that domain, execve is allowed only of the files
	// in Exec (LANDLOCK_ACCESS_FS_EXECUTE), for the whole tree.
	FlagExecScope
	// FlagSysfs: replace the host's sysfs on /sys with a fresh, read-only
	// one (the stage is in a new network namespace and FlagMountNS is set),
	// which shows only the namespace's own network interfaces; the host's
	// /sys/fs/cgroup is bound back, read-only.
	FlagSysfs
	// FlagPrivate: the private view of SPEC 7.1a (FlagMountNS is set):
	// an empty tmpfs on each of Private, the paths of Keep beneath them
	// bound back, each of Masked hidden.
	FlagPrivate
	// FlagCompose: the root is a jail composed for this launch (SPEC 7.3;
	// FlagMountNS is set): ComposeRO read-only, ComposeRW writable, each
	// at its host path (compose_linux.go). Root is then unused.
	FlagCompose
	// FlagEgress: in the new network namespace (FlagLoopback), after lo is
	// up, the stage opens the egress listeners (egress_linux.go), installs
	// the transparent capture where the kernel has nf_tables, and sends
	// the listeners to the parent in MsgNet; /etc/resolv.conf shows
	// nameserver 127.0.0.1 (FlagMountNS is set).
	FlagEgress
	// FlagHideReads: with FlagPrivate, a Landlock domain in which files
	// are readable only through the entries, as they are at the launch, of
	// the directories above HideRead (hideread_linux.go): a hidden file the
	// host replaces while the child runs stays unreadable.
	FlagHideReads
)

// The egress listeners inside a child's network namespace (FlagEgress),
// all on 127.0.0.1: the namespace is the child's own, so fixed ports
// collide with nothing of the host's.
const (
	EgressHTTPPort        = 3128 // HTTP proxy (CONNECT and forward)
	EgressSOCKSPort       = 1080 // SOCKS5
	EgressTransparentPort = 3129 // where the capture redirects every other TCP connection
	EgressDNSPort         = 53   // UDP: the name server of resolv.conf, and of every UDP packet to port 53
)

// Descriptors of MsgNet, in this order.
const (
	NetHTTP        = iota // listening TCP socket, 127.0.0.1:EgressHTTPPort
	NetSOCKS              // listening TCP socket, 127.0.0.1:EgressSOCKSPort
	NetTransparent        // listening TCP socket, 127.0.0.1:EgressTransparentPort
	NetDNS                // bound UDP socket, 127.0.0.1:EgressDNSPort
	NetFDs                // how many
)

// NetCaptured in MsgNet's status byte: the nftables rules of the
// transparent capture are in place (and the default route through lo
// that lets a connection to any address reach them). Without it, a
// connection to anything but loopback fails (no route).
const NetCaptured = 1

// Hostname is the host name a child in a new UTS namespace gets.
const Hostname = "mcp-process"

// Rlimit is one resource limit the stage sets (setrlimit resource number).
type Rlimit struct {
	Resource int
	Cur, Max uint64
}

// KeepMax as an Rlimit's Max keeps the hard limit in force and caps Cur at it.
const KeepMax = ^uint64(0) - 1

// Config is everything the stage needs besides its descriptors.
type Config struct {
	Flags   uint32
	Rlimits []Rlimit
	// Dir is the working directory; with Root, a path inside the jail.
	Dir  string
	Argv []string
	Env  []string

	// Hostname, if set, is set with sethostname (new UTS namespace).
	Hostname string
	// Root, if set, becomes the root directory (pivot_root, else chroot).
	Root string
	// TmpfsMB is the size of the private /tmp under FlagReadOnly (0: the
	// kernel's default, half of RAM).
	TmpfsMB uint64
	// Writable are the paths left writable (FlagReadOnly, FlagLandlock).
	Writable []string
	// CapKeep is the capability mask the target keeps (FlagCaps).
	CapKeep uint64
	// Seccomp, if set, is a struct sock_filter array installed last.
	Seccomp []byte
	// MACPath and MACValue: write MACValue to MACPath (an LSM's
	// /proc/thread-self/attr/.../exec) before no_new_privs.
	MACPath, MACValue string
	// UID and GID are the target's ids (FlagIdentity).
	UID, GID uint32
	// Exec are the files the tree may execute (FlagExecScope), paths as
	// seen after Root.
	Exec []string
	// Private are the directories that get an empty tmpfs of their own
	// (FlagPrivate); Keep the directories beneath them bound back as they
	// are on the host; Masked the files and directories made unreadable
	// (an empty, read-only, mode 000 tmpfs on a directory, /dev/null bound
	// read-only on a file). Paths as seen before Root is entered (inside
	// it when Root is set); a path that does not exist is skipped.
	Private, Keep, Masked []string
	// Dirs are the allowed working directories, all writable under
	// FlagLandlock (not only the launch's own); one that is absent or a
	// symbolic link is skipped (left read-only).
	Dirs []string
	// Sealed are the policy's files (the config file, the audit logs, the
	// server binary): bound read-only onto themselves in the child's view
	// (FlagPrivate), so no child can change them; absent ones are skipped.
	Sealed []string
	// ComposeRO and ComposeRW are the host directories of a composed jail
	// (FlagCompose), bound at their own paths, read-only and writable
	// (read-only too under FlagReadOnly, unless listed in Writable);
	// ComposeLinks are pairs (path, target) of symbolic links made in it
	// (/bin -> usr/bin on a merged-/usr host).
	ComposeRO, ComposeRW, ComposeLinks []string
	// HideRead are the hidden paths (Masked) as the server resolved them
	// (every symbolic link above them followed): the read layer of
	// FlagHideReads splits the directories above them.
	HideRead []string
}

const (
	magic      = "MCPS"
	version    = 10
	headerSize = 12 // magic, version, groups byte (groupsAt), 2 reserved bytes, u32 payload length
	// groupsAt is the header's byte that says how many cgroup.procs
	// descriptors follow a zygote's ZygoteFDs (SetGroups); 0 for a stage.
	groupsAt = 5
	// MaxPayload bounds a config (argv + env are far below it: the kernel
	// refuses more than a few MiB at execve anyway).
	MaxPayload = 16 << 20
)

// encodedConfig reports whether b, at least n bytes long, starts with the
// header of a config of this version (AddFlags and SetGroups mark one).
func encodedConfig(b []byte, n int) bool {
	return len(b) >= n && len(b) >= headerSize && string(b[:4]) == magic && b[4] == version
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func appendU64(b []byte, v uint64) []byte {
	return appendU32(appendU32(b, uint32(v)), uint32(v>>32))
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

func getU32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func appendString(b []byte, s string) []byte {
	return append(appendU32(b, uint32(len(s))), s...)
}

// protoError is a malformed config or report.
type protoError string

func (e protoError) Error() string { return string(e) }

// utoa formats v in decimal (the stage has no strconv).
func utoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}

// Encode returns c in the wire format: a 12-byte header then the payload.
func (c *Config) Encode() []byte {
	b := make([]byte, headerSize, 256)
	copy(b, magic)
	b[4] = version
	b = appendU32(b, c.Flags)
	b = appendU32(b, uint32(len(c.Rlimits)))
	for _, r := range c.Rlimits {
		b = appendU32(b, uint32(r.Resource))
		b = appendU64(b, r.Cur)
		b = appendU64(b, r.Max)
	}
	b = appendString(b, c.Dir)
	for _, list := range [][]string{c.Argv, c.Env} {
		b = appendU32(b, uint32(len(list)))
		for _, s := range list {
			b = appendString(b, s)
		}
	}
	b = appendString(b, c.Hostname)
	b = appendString(b, c.Root)
	b = appendU64(b, c.TmpfsMB)
	b = appendU32(b, uint32(len(c.Writable)))
	for _, s := range c.Writable {
		b = appendString(b, s)
	}
	b = appendU64(b, c.CapKeep)
	b = appendString(b, string(c.Seccomp))
	b = appendString(b, c.MACPath)
	b = appendString(b, c.MACValue)
	b = appendU32(b, c.UID)
	b = appendU32(b, c.GID)
	for _, list := range [][]string{c.Exec, c.Private, c.Keep, c.Masked, c.Dirs, c.Sealed, c.ComposeRO, c.ComposeRW, c.ComposeLinks, c.HideRead} {
		b = appendU32(b, uint32(len(list)))
		for _, s := range list {
			b = appendString(b, s)
		}
	}
	putU32(b[8:], uint32(len(b)-headerSize))
	return b
}

const errMalformed = protoError("malformed config")

// payloadSize checks a header and returns the payload length.
func payloadSize(h []byte) (int, error) {
	if len(h) != headerSize || string(h[:4]) != magic {
		return 0, errMalformed
	}
	if h[4] != version {
		return 0, protoError("config version " + utoa(uint64(h[4])) + ", this stage speaks " + utoa(version))
	}
	n := getU32(h[8:])
	if n > MaxPayload {
		return 0, protoError("config of " + utoa(uint64(n)) + " bytes is too large")
	}
	return int(n), nil
}

type decoder struct {
	b     []byte
	bad   bool
	alias bool // strings share b's memory (b is never written again)
}

func (d *decoder) take(n int) []byte {
	if d.bad || n < 0 || n > len(d.b) {
		d.bad = true
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return getU32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 { return uint64(d.u32()) | uint64(d.u32())<<32 }

func (d *decoder) str() string {
	b := d.take(int(d.u32()))
	if d.alias && len(b) > 0 {
		return unsafe.String(&b[0], len(b))
	}
	return string(b)
}

func (d *decoder) list() []string {
	n := d.u32()
	if uint64(n) > uint64(len(d.b))/4 { // each entry takes at least 4 bytes
		d.bad = true
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.str()
	}
	return l
}

// decodePayload parses what follows the header.
func decodePayload(p []byte, alias bool) (*Config, error) {
	d := &decoder{b: p, alias: alias}
	c := &Config{Flags: d.u32()}
	n := d.u32()
	if uint64(n) > uint64(len(d.b))/20 {
		return nil, errMalformed
	}
	c.Rlimits = make([]Rlimit, n)
	for i := range c.Rlimits {
		c.Rlimits[i] = Rlimit{Resource: int(d.u32()), Cur: d.u64(), Max: d.u64()}
	}
	c.Dir = d.str()
	c.Argv = d.list()
	c.Env = d.list()
	c.Hostname = d.str()
	c.Root = d.str()
	c.TmpfsMB = d.u64()
	c.Writable = d.list()
	c.CapKeep = d.u64()
	if p := d.take(int(d.u32())); len(p) > 0 {
		c.Seccomp = p
	}
	c.MACPath = d.str()
	c.MACValue = d.str()
	c.UID = d.u32()
	c.GID = d.u32()
	c.Exec = d.list()
	c.Private = d.list()
	c.Keep = d.list()
	c.Masked = d.list()
	c.Dirs = d.list()
	c.Sealed = d.list()
	c.ComposeRO = d.list()
	c.ComposeRW = d.list()
	c.ComposeLinks = d.list()
	c.HideRead = d.list()
	if d.bad || len(d.b) != 0 {
		return nil, errMalformed
	}
	return c, nil
}

// Decode parses a whole encoded config (header and payload).
func Decode(b []byte) (*Config, error) {
	if len(b) < headerSize {
		return nil, errMalformed
	}
	n, err := payloadSize(b[:headerSize])
	if err != nil {
		return nil, err
	}
	if len(b)-headerSize != n {
		return nil, errMalformed
	}
	return decodePayload(b[headerSize:], false)
}

// Step names, as reported in a StepError.
const (
	StepConfig = "config" // receiving the config and its descriptors
	StepStdio  = "stdio"  // installing the sent stdin, stdout, stderr as 0, 1, 2
	StepRlimit = "rlimit" // setting one resource limit (Resource says which)
	StepChdir  = "chdir"
	StepFDs    = "fds"  // marking every inherited descriptor close-on-exec
	StepGate   = "gate" // waiting for "go"
	StepExec   = "exec" // execveat of the target

	StepMounts     = "mounts"       // private mounts, /proc, chroot, read-only filesystem
	StepHostname   = "hostname"     // sethostname in the new UTS namespace
	StepLoopback   = "loopback"     // bringing lo up in the new network namespace
	StepCaps       = "capabilities" // bounding, ambient, then capset
	StepNoNewPrivs = "no_new_privs"
	StepLandlock   = "landlock"
	StepSeccomp    = "seccomp"
	StepMAC        = "mac"            // the AppArmor profile / SELinux context for the exec
	StepIdentity   = "identity"       // supplementary groups, gid, uid
	StepScope      = "landlock-scope" // the scoped domain and the tree's executables
	StepPrivate    = "private-view"   // private /tmp, /run...; secrets masked
	StepEgress     = "egress"         // the egress listeners, the capture, resolv.conf (FlagEgress)
	StepNetRules   = "landlock-net"   // Landlock TCP connect rules (FlagEgress without the capture)
	StepCgroup     = "cgroup"         // the zygote's child joining its launch's cgroup (SetGroups)
)

// StepError is a failed step of the stage, as the parent receives it.
type StepError struct {
	Step string
	// Errno is the system call's error number (a syscall.Errno), 0 if none.
	Errno uintptr
	// Resource and Max are set for StepRlimit: the limit that could not be
	// set and the hard limit in force (what the process may not exceed).
	Resource int
	Max      uint64
	Detail   string
}

func (e *StepError) Error() string {
	s := "init stage step " + e.Step + " failed"
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.Errno != 0 {
		s += ": errno " + utoa(uint64(e.Errno))
	}
	return s
}

// Encode returns MsgError followed by the error: u16 length, then errno,
// resource, max, step and detail.
func (e *StepError) Encode() []byte {
	return e.AppendEncode(make([]byte, 0, e.EncodedSize()))
}

// EncodedSize bounds the length of e's encoding.
func (e *StepError) EncodedSize() int { return 64 + len(e.Step) + min(len(e.Detail), 1024) }

// AppendEncode appends Encode's bytes to b (which does not grow when it
// has EncodedSize room).
func (e *StepError) AppendEncode(b []byte) []byte {
	detail := e.Detail
	if len(detail) > 1024 {
		detail = detail[:1024]
	}
	at := len(b)
	b = append(b, MsgError, 0, 0)
	b = appendU32(b, uint32(e.Errno))
	b = appendU32(b, uint32(int32(e.Resource)))
	b = appendU64(b, e.Max)
	b = appendString(b, e.Step)
	b = appendString(b, detail)
	n := len(b) - at - 3
	b[at+1], b[at+2] = byte(n), byte(n>>8)
	return b
}

// ErrorSize returns the length of the error body that follows MsgError and
// its 2 length bytes.
func ErrorSize(h [2]byte) int { return int(h[0]) | int(h[1])<<8 }

// DecodeError parses an error body (after MsgError and its length).
func DecodeError(body []byte) (*StepError, error) {
	d := &decoder{b: body}
	e := &StepError{Errno: uintptr(d.u32()), Resource: int(int32(d.u32())), Max: d.u64()}
	e.Step = d.str()
	e.Detail = d.str()
	if d.bad || len(d.b) != 0 {
		return nil, protoError("malformed step error")
	}
	return e, nil
}
