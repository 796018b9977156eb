//go:build linux

package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"

	libseccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Layer is the layer name of this package's errors.
const Layer = layer.Seccomp

// MaxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const MaxInstructions = 4096

// Offsets in struct seccomp_data. offArg0Lo is the low 32 bits of args[0]
// on a little-endian machine (amd64 and arm64, the only ones nativeArch
// accepts).
const (
	offNr     = 0
	offArch   = 4
	offArg0Lo = 16
	offArg1Lo = 24
)

// afVsock is AF_VSOCK, the address family of virtio/VMCI sockets to the
// hypervisor and other VMs: refused by every program (SPEC 7.1).
const afVsock = unix.AF_VSOCK

// afUnix is AF_UNIX: socket(AF_UNIX) is refused unless allowUnixSockets
// (SPEC 7.1a); socketpair(AF_UNIX) is always allowed.
const afUnix = unix.AF_UNIX

// x32Bit marks an x32 system call number on amd64 (__X32_SYSCALL_BIT).
const x32Bit = 0x40000000

// Return values.
const (
	retKillProcess = unix.SECCOMP_RET_KILL_PROCESS
	retEPERM       = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	retENOSYS      = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	retAllow       = unix.SECCOMP_RET_ALLOW
)

type cached struct {
	once sync.Once
	prog []byte
	err  error
}

// key names one program: a profile (Baseline for none) and whether
// socket(AF_UNIX) is allowed.
type key struct {
	profile     string
	unixSockets bool
}

// cache holds each program: built once per server.
var cache = func() map[key]*cached {
	m := map[key]*cached{}
	for _, p := range append(Profiles(), Baseline) {
		m[key{p, false}], m[key{p, true}] = &cached{}, &cached{}
	}
	return m
}()

// Program returns the BPF program for profile (Baseline: the baseline
// alone) on the running architecture, as the raw bytes of a struct
// sock_filter array (8 bytes per instruction, native endian) ready for
// seccomp(SECCOMP_SET_MODE_FILTER, 0, &sock_fprog{len(b)/8, &b[0]}) on the
// thread that execs. Every program starts with the baseline (see the
// package doc); allowUnixSockets leaves socket(AF_UNIX) out of it. It is
// built once per process; each call returns a fresh copy.
func Program(profile string, allowUnixSockets bool) ([]byte, error) {
	c, ok := cache[key{profile, allowUnixSockets}]
	if !ok {
		return nil, errcode.Fail(errcode.InvalidInput, Layer, "set seccompProfile to strict, moderate or permissive",
			"unknown seccomp profile %q", profile)
	}
	c.once.Do(func() {
		var ins []bpf.Instruction
		ins, c.err = Instructions(profile, allowUnixSockets)
		if c.err == nil {
			c.prog, c.err = encode(ins)
		}
	})
	if c.err != nil {
		return nil, c.err
	}
	return slices.Clone(c.prog), nil
}

// Instructions returns the program of profile as instructions (for tests,
// doctor output and inspection). Program is its encoded, cached form.
func Instructions(profile string, allowUnixSockets bool) ([]bpf.Instruction, error) {
	info, err := nativeArch()
	if err != nil {
		return nil, err
	}
	for _, n := range []string{"socket", "socketpair", "ioctl", baselineDenied} {
		if _, ok := info.SyscallNames[n]; !ok {
			return nil, errcode.Fail(errcode.Internal, Layer, "", "no %s in the %s system call table: the seccomp baseline cannot be built", n, info.Name)
		}
	}
	prog := prologue(info, profile == Strict, !allowUnixSockets)
	if profile == Baseline {
		return append(prog, bpf.RetConstant{Val: retAllow}), nil
	}
	policy, err := policyFor(profile)
	if err != nil {
		return nil, err
	}
	assembled, err := policy.Assemble()
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, Layer, "", "assembling the %s seccomp profile: %v", profile, err)
	}
	body, err := stripPrologue(assembled, info)
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, Layer, "", "the %s seccomp profile: %v", profile, err)
	}
	prog = append(prog, body...)
	if len(prog) > MaxInstructions {
		return nil, errcode.Fail(errcode.Internal, Layer, "", "the %s seccomp profile has %d instructions, more than the kernel's %d",
			profile, len(prog), MaxInstructions)
	}
	return prog, nil
}

// nativeArch is the running architecture, if this package supports it.
func nativeArch() (*arch.Info, error) {
	switch runtime.GOARCH {
	case "amd64", "arm64":
		if info := runningArch(); info != nil {
			return info, nil
		}
	}
	return nil, errcode.Fail(errcode.LayerUnavailable, Layer, "disable enableSeccomp on this host",
		"seccomp profiles are built for amd64 and arm64, not %s", runtime.GOARCH)
}

// policyFor is the go-seccomp-bpf policy of a profile: the rules after the
// architecture checks, which prologue supplies.
//
// Order matters. go-seccomp-bpf does not reload the system call number after
// a failed argument condition: the next comparison sees the argument word
// still in the accumulator. So the argument-checked calls come last, after
// every plain name, in an order where that leftover word can never match
// the next number: in moderate, personality (which leaves one of the allowed
// personas, none a clone number) before clone (last); in strict, clone (which
// leaves flags with a CLONE_NEW* bit, >= 0x20000, never personality's number)
// before personality (last). TestProgramMatchesModel checks every number
// and the argument edge cases against a plain Go model of each profile.
func policyFor(profile string) (*libseccomp.Policy, error) {
	info := runningArch()
	enosys := libseccomp.SyscallGroup{Names: []string{enosysCall}, Action: libseccomp.Action(retENOSYS)}
	personality := make([]libseccomp.NameWithConditions, 0, len(personalityAllowed))
	var personalityOther libseccomp.ArgumentConditions
	for _, v := range personalityAllowed {
		personality = append(personality, libseccomp.NameWithConditions{Name: "personality",
			Conditions: libseccomp.ArgumentConditions{{Argument: 0, Operation: libseccomp.Equal, Value: v}}})
		personalityOther = append(personalityOther, libseccomp.Condition{Argument: 0, Operation: libseccomp.NotEqual, Value: v})
	}
	switch profile {
	case Permissive:
		return &libseccomp.Policy{DefaultAction: libseccomp.ActionAllow, Syscalls: []libseccomp.SyscallGroup{
			{Names: onArch(info, permissiveDenied), Action: libseccomp.ActionErrno},
		}}, nil
	case Moderate:
		return &libseccomp.Policy{DefaultAction: libseccomp.ActionAllow, Syscalls: []libseccomp.SyscallGroup{
			enosys,
			{
				Names: onArch(info, permissiveDenied, moderateDenied),
				NamesWithCondtions: []libseccomp.NameWithConditions{
					{Name: "personality", Conditions: personalityOther},
					{Name: "clone", Conditions: libseccomp.ArgumentConditions{
						{Argument: 0, Operation: libseccomp.BitsSet, Value: cloneNewMask}}},
				},
				Action: libseccomp.ActionErrno,
			},
		}}, nil
	case Strict:
		allow := append([]libseccomp.NameWithConditions{
			{Name: "clone", Conditions: libseccomp.ArgumentConditions{
				{Argument: 0, Operation: libseccomp.BitsNotSet, Value: cloneNewMask}}},
		}, personality...)
		return &libseccomp.Policy{DefaultAction: libseccomp.ActionErrno, Syscalls: []libseccomp.SyscallGroup{
			enosys,
			{Names: onArch(info, strictAllowed), NamesWithCondtions: allow, Action: libseccomp.ActionAllow},
		}}, nil
	}
	return nil, errcode.Fail(errcode.InvalidInput, Layer, "set seccompProfile to strict, moderate or permissive",
		"unknown seccomp profile %q", profile)
}

// prologue is the baseline every program starts with: it checks the
// architecture and the ABI before any rule, refuses io_uring_setup,
// AF_VSOCK sockets and (denyUnix) socket(AF_UNIX), and leaves the system
// call number in the accumulator:
//
//	ld [arch]; jeq NATIVE, +1; ret KILL_PROCESS
//	ld [nr]
//	amd64: jge 0x40000000, +0, +1; ret ERRNO(EPERM)     (x32)
//	strict: jgt MAXNR, +0, +1; ret ERRNO(ENOSYS)      (newer than our table)
//	jeq IO_URING_SETUP, +0, +1; ret ERRNO(EPERM)
//	vsockCheck
//	denyUnix: unixCheck
//
// go-seccomp-bpf's own prologue lets a foreign architecture through to the
// default action (allow, for permissive and moderate) and answers x32 with
// ENOSYS; stripPrologue removes it.
//
// io_uring is refused because IORING_OP_SOCKET creates sockets (any
// family) and IORING_OP_CONNECT connects them without a system call that
// seccomp sees: without this the socket rules below could be bypassed.
func prologue(info *arch.Info, unknownENOSYS, denyUnix bool) []bpf.Instruction {
	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.ID), SkipTrue: 1},
		bpf.RetConstant{Val: retKillProcess},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	if info.ID == arch.X86_64.ID {
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: x32Bit, SkipFalse: 1},
			bpf.RetConstant{Val: retEPERM})
	}
	if unknownENOSYS {
		p = append(p,
			bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: uint32(maxNr(info)), SkipFalse: 1},
			bpf.RetConstant{Val: retENOSYS})
	}
	p = append(p,
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames[baselineDenied]), SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM})
	p = append(p, vsockCheck(info)...)
	p = append(p, ioctlCheck(info)...)
	if denyUnix {
		p = append(p, unixCheck(info)...)
	}
	return p
}

// vsockCheck refuses socket(2) and socketpair(2) of the AF_VSOCK family with
// EPERM, and leaves the system call number in the accumulator again:
//
//	jeq SOCKET, +1, +0; jeq SOCKETPAIR, +0, +3
//	ld [args[0] low word]; jeq AF_VSOCK, +0, +1; ret ERRNO(EPERM)
//	ld [nr]
//
// Only the low 32 bits of the family are compared: the kernel reads it as
// an int, so a value with high bits set (1<<32 | AF_VSOCK) is AF_VSOCK too.
// go-seccomp-bpf compares all 64 bits, which is why this check is ours.
func vsockCheck(info *arch.Info) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socket"]), SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socketpair"]), SkipFalse: 3},
		bpf.LoadAbsolute{Off: offArg0Lo, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: afVsock, SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
}

// Terminal ioctls refused by every program: TIOCSTI pushes bytes into a
// terminal's input queue as if typed there, and TIOCLINUX (the virtual
// console's subcommands) can paste a selection into it; a child on a
// pseudo-terminal (pty: true) or anywhere else needs neither.
const (
	tiocSTI   = unix.TIOCSTI
	tiocLINUX = unix.TIOCLINUX
)

// ioctlCheck refuses ioctl(2) with TIOCSTI or TIOCLINUX with EPERM, on any
// descriptor, and leaves the system call number in the accumulator again.
// Only the low 32 bits of the request are compared: the kernel reads it as
// an unsigned int.
//
//	jeq IOCTL, +0, +5
//	ld [args[1] low word]; jeq TIOCSTI, +1, +0; jeq TIOCLINUX, +0, +1
//	ret ERRNO(EPERM)
//	ld [nr]
func ioctlCheck(info *arch.Info) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["ioctl"]), SkipFalse: 5},
		bpf.LoadAbsolute{Off: offArg1Lo, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tiocSTI, SkipTrue: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: tiocLINUX, SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
}

// unixCheck refuses socket(2) of the AF_UNIX family with EPERM (comparing
// the low 32 bits of the family, as vsockCheck does), and leaves the system
// call number in the accumulator again. socketpair(AF_UNIX) is not
// touched: a connected pair reaches nothing outside the process tree.
//
//	jeq SOCKET, +0, +4
//	ld [args[0] low word]; jeq AF_UNIX, +0, +1; ret ERRNO(EPERM)
//	ld [nr]
func unixCheck(info *arch.Info) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(info.SyscallNames["socket"]), SkipFalse: 4},
		bpf.LoadAbsolute{Off: offArg0Lo, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: afUnix, SkipFalse: 1},
		bpf.RetConstant{Val: retEPERM},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
}

// maxNr is the highest system call number in info's table.
func maxNr(info *arch.Info) int {
	m := 0
	for nr := range info.SyscallNumbers {
		m = max(m, nr)
	}
	return m
}

// stripPrologue returns the rules of a go-seccomp-bpf program without its
// architecture and x32 checks. Its jumps are relative, so they stay valid.
// Any other shape (a future version of the library) is an error, never a
// silently wrong filter.
func stripPrologue(p []bpf.Instruction, info *arch.Info) ([]bpf.Instruction, error) {
	bad := errors.New("unexpected go-seccomp-bpf prologue (library version changed?)")
	if len(p) < 4 || p[0] != (bpf.LoadAbsolute{Off: offArch, Size: 4}) {
		return nil, bad
	}
	i := 1
	switch j := p[1].(type) {
	case bpf.JumpIf:
		if j.Val != uint32(info.ID) {
			return nil, bad
		}
		switch {
		case j.Cond == bpf.JumpNotEqual && j.SkipFalse == 0:
			i = 2
		case j.Cond == bpf.JumpEqual && j.SkipTrue == 1 && j.SkipFalse == 0:
			if _, ok := p[2].(bpf.Jump); !ok {
				return nil, bad
			}
			i = 3
		default:
			return nil, bad
		}
	default:
		return nil, bad
	}
	if p[i] != (bpf.LoadAbsolute{Off: offNr, Size: 4}) {
		return nil, bad
	}
	i++
	if info.ID == arch.X86_64.ID {
		if len(p) < i+2 {
			return nil, bad
		}
		j, ok := p[i].(bpf.JumpIf)
		if !ok || j.Cond != bpf.JumpGreaterOrEqual || j.Val != x32Bit {
			return nil, bad
		}
		if _, ok := p[i+1].(bpf.RetConstant); !ok {
			return nil, bad
		}
		i += 2
	}
	return p[i:], nil
}

// encode turns instructions into a struct sock_filter array.
func encode(ins []bpf.Instruction) ([]byte, error) {
	raw, err := bpf.Assemble(ins)
	if err != nil {
		return nil, errcode.Fail(errcode.Internal, Layer, "", "encoding the seccomp program: %v", err)
	}
	b := make([]byte, 0, 8*len(raw))
	for _, r := range raw {
		b = binary.NativeEndian.AppendUint16(b, r.Op)
		b = append(b, r.Jt, r.Jf)
		b = binary.NativeEndian.AppendUint32(b, r.K)
	}
	return b, nil
}

// Decode turns the bytes of Program back into instructions (for tests and
// inspection).
func Decode(b []byte) ([]bpf.Instruction, error) {
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("seccomp program of %d bytes is not a whole number of instructions", len(b))
	}
	raw := make([]bpf.RawInstruction, 0, len(b)/8)
	for i := 0; i < len(b); i += 8 {
		raw = append(raw, bpf.RawInstruction{
			Op: binary.NativeEndian.Uint16(b[i:]), Jt: b[i+2], Jf: b[i+3], K: binary.NativeEndian.Uint32(b[i+4:]),
		})
	}
	ins, ok := bpf.Disassemble(raw)
	if !ok {
		return ins, errors.New("seccomp program has instructions that do not disassemble")
	}
	return ins, nil
}

// Available reports whether this kernel can enforce the profiles (seccomp
// filter mode with SECCOMP_RET_KILL_PROCESS, Linux 4.14+: the kernel probe
// is hostfeat.Seccomp, made once per process) on an architecture the
// profiles are built for, and why not when it cannot.
func Available() (bool, string) {
	if _, err := nativeArch(); err != nil {
		return false, errcode.As(err).Message
	}
	detail, err := hostfeat.Seccomp()
	if err != nil {
		return false, err.Error()
	}
	return true, detail
}
