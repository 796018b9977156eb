//go:build linux

package sandbox

// The executable's identity check (the file that runs is the file the
// policy checked) and the stage's config for a launch.

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

func changed(format string, a ...any) *errcode.Error {
	return errcode.Fail(errcode.Internal, layer, "retry the launch; if it persists, find out who modifies the executable",
		"executable changed since the policy check: "+format, a...)
}

// noFileDefault is the soft RLIMIT_NOFILE a child gets when its launch sets
// no maxFileDescriptors: the usual default (the stage's Go runtime raised
// its own soft limit to the hard one, which the target must not inherit).
const noFileDefault = 1024

// stageRlimits are the limits the stage sets for l.
func stageRlimits(l config.ResourceLimits) []stage.Rlimit {
	rl := make([]stage.Rlimit, 0, 3)
	if l.MaxFileDescriptors > 0 {
		n := uint64(l.MaxFileDescriptors)
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: n, Max: n})
	} else {
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_NOFILE, Cur: noFileDefault, Max: stage.KeepMax})
	}
	if l.MaxCpuTime > 0 {
		// SIGXCPU at the soft limit, SIGKILL one second later.
		n := uint64(l.MaxCpuTime)
		rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_CPU, Cur: n, Max: n + 1})
	}
	// Core dumps off: a dump could write the child's secrets to disk.
	rl = append(rl, stage.Rlimit{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0})
	return rl
}

// stageConfig encodes what the stage needs to prepare and exec spec.
func stageConfig(spec *policy.Spec, script bool, iso *Isolation) ([]byte, error) {
	argv := spec.Argv
	if len(argv) == 0 {
		argv = []string{spec.Path}
	}
	c := stage.Config{Rlimits: stageRlimits(spec.Limits), Dir: spec.Dir, Argv: argv, Env: spec.Env}
	if script {
		c.Flags |= stage.FlagScript
	}
	iso.apply(&c)
	if spec.Home != "" && iso.Root == "" {
		// The agent's HOME stays writable (SPEC 7.1a), and in sight when
		// it lies beneath a private directory (only that agent's own).
		if iso.Landlock || iso.ReadOnly {
			c.Writable = append(slices.Clip(c.Writable), spec.Home)
		}
		if c.Flags&stage.FlagPrivate != 0 {
			c.Keep = append(slices.Clip(c.Keep), spec.Home)
		}
		if iso.Compose { // in the composed jail, at its host path
			c.ComposeRW = append(slices.Clip(c.ComposeRW), spec.Home)
		}
	}
	b := c.Encode()
	if len(b) > stage.MaxPayload {
		return nil, errcode.Fail(errcode.InvalidInput, layer, "pass fewer or shorter arguments or variables",
			"arguments and environment are too large (%d bytes)", len(b))
	}
	return b, nil
}

// openCheckedFile opens a file the policy checked, by the real path it
// resolved (no symbolic link in it), to run it. A symlink swapped in since
// (to a device node, say) is refused (openat2 RESOLVE_NO_SYMLINKS; only as
// the last component, O_NOFOLLOW, where the kernel has no openat2), a FIFO
// does not block the launch (O_NONBLOCK: the identity check then refuses
// it) and a terminal never becomes the server's controlling terminal.
func openCheckedFile(path string) (int, error) {
	const flags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	how := unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for {
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &how)
		switch err {
		case unix.EINTR:
			continue
		case unix.ENOSYS, unix.EPERM: // no openat2, or a seccomp filter refusing it
			fd, err = unix.Open(path, flags|unix.O_NOFOLLOW, 0)
			if err == unix.EINTR {
				continue
			}
		}
		return fd, err
	}
}

// openChecked opens the executable, checks it is the file the policy
// checked, and encodes the stage's config for spec.
func openChecked(spec *policy.Spec, iso *Isolation) (*os.File, []byte, error) {
	if spec == nil || spec.Path == "" {
		return nil, nil, errcode.Fail(errcode.Internal, layer, "", "no executable to launch")
	}
	fd, err := openCheckedFile(spec.Path)
	if err != nil {
		return nil, nil, changed("open %s: %v", spec.Path, err)
	}
	exe := os.NewFile(uintptr(fd), spec.Path)
	fail := func(err error) (*os.File, []byte, error) {
		exe.Close()
		return nil, nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(changed("fstat %s: %v", spec.Path, err))
	}
	if uint64(st.Dev) != spec.Dev || st.Ino != spec.Ino {
		return fail(changed("%s is no longer the file that was checked", spec.Path))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(changed("%s is not a regular file", spec.Path))
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && !spec.SetID {
		return fail(changed("%s gained a setuid/setgid bit", spec.Path))
	}
	// The kernel reads the "#!" line again at exec: it must be the line the
	// policy checked (a file rewritten in place keeps its inode).
	head := make([]byte, 256) // BINPRM_BUF_SIZE
	n, _ := unix.Pread(fd, head, 0)
	head = head[:max(n, 0)]
	script := bytes.HasPrefix(head, []byte("#!"))
	if script {
		line, _, _ := bytes.Cut(head, []byte("\n"))
		if !spec.Script || string(line) != spec.Shebang {
			return fail(changed("%s: its #! line is not the one that was checked", spec.Path))
		}
	} else if spec.Script {
		return fail(changed("%s is no longer a #! script", spec.Path))
	}
	if script { // run its checked interpreter instead (script_linux.go)
		iexe, ispec, nested, err := scriptExec(spec)
		if err != nil {
			return fail(err)
		}
		exe.Close()
		exe, spec, script = iexe, ispec, nested
	}
	cfg, err := stageConfig(spec, script, iso)
	if err != nil {
		return fail(err)
	}
	if spec.Dir != "" {
		// Tell a missing directory apart before using a stage.
		// With a jail, Dir is a path inside it.
		if fi, err := os.Stat(filepath.Join(iso.Root, spec.Dir)); err != nil || !fi.IsDir() {
			return fail(errcode.Fail(errcode.CwdNotFound, layer, "use an existing directory",
				"working directory %s does not exist (any more)", spec.Dir))
		}
	}
	return exe, cfg, nil
}
