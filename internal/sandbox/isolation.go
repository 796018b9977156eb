package sandbox

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
)

// Layers every child gets besides the ones above (Linux).
const (
	LayerNoNewPrivs   = string(layers.NoNewPrivs)
	LayerCapabilities = string(layers.Capabilities)
)

// Isolation is the server-wide isolation every child gets (SPEC 3.10,
// 3.15): it comes from the configuration, fixed at start, so warm stages
// are cloned with it before any launch. The zero value isolates nothing
// beyond what every child gets (no_new_privs, and no capabilities but
// KeepCaps for a root server).
type Isolation struct {
	// Namespaces are the new namespaces of each child. A new PID
	// namespace gets its own /proc; pid, Root and ReadOnly imply a
	// private mount namespace even when Namespaces.Mount is false.
	Namespaces config.Namespaces
	// Root, if set, is the child's root directory (pivot_root), a host
	// path; the launch's Dir is then a path inside it.
	Root string
	// Compose: the child's root is a jail composed at launch (SPEC 7.3,
	// enableChroot without chrootDirectory): ComposeRO read-only, ComposeRW
	// writable, ComposeLinks (path, target pairs) as links, each at its host
	// path (compose.go). Root is then "".
	Compose                            bool
	ComposeRO, ComposeRW, ComposeLinks []string
	// ReadOnly makes every mount read-only, with a private tmpfs /tmp of
	// TmpfsMB MiB (0: the kernel's default) and WritablePaths writable.
	ReadOnly bool
	TmpfsMB  int64
	// WritablePaths stay writable under ReadOnly and Landlock (paths
	// inside Root when it is set).
	WritablePaths []string
	// Landlock restricts writes to the working directory, /tmp and
	// WritablePaths.
	Landlock bool
	// KeepCaps is the capability mask (bit N = capability N) children
	// keep: keepCapabilities minus dropCapabilities (drop wins).
	KeepCaps uint64
	// SeccompProfile names the profile ("": the baseline alone) and
	// Seccomp is the program (a struct sock_filter array), installed
	// last; nil: none (only where the host has no seccomp filters). Every
	// program starts with the baseline: no AF_VSOCK sockets, no
	// io_uring, and no socket(AF_UNIX) unless UnixSockets (SPEC 7.1a).
	SeccompProfile string
	Seccomp        []byte
	UnixSockets    bool
	// MACPath and MACValue: the init stage writes MACValue to MACPath
	// (AppArmor's or SELinux's exec attribute) before the exec.
	MACPath, MACValue string
	// ExecPaths, when not nil, are the only files any process of the tree
	// may execve (executablePolicyScope "tree", SPEC 7.1): real paths as
	// the child sees them (inside Root when it is set), sorted, from
	// policy.TreeExecutables. nil is the "launch" scope (only the
	// launched file is checked, by the policy); an empty non-nil list
	// lets nothing run.
	ExecPaths []string

	// Identity is who the target runs as (SPEC 7.1): for a root server,
	// never host uid 0.
	Identity config.ChildIdentity
	// Scope puts every target in a Landlock domain scoped for signals and
	// abstract unix sockets (set where the kernel has the scopes).
	Scope bool
	// Sealed are the policy's files (the config file, the audit logs, the
	// server binary), read-only in every child's view (private view).
	Sealed []string
	// Dirs are the allowed working directories, writable under Landlock.
	Dirs []string
	// SelfUser: an unprivileged server's children get a user namespace
	// of their own that maps the server's uid and gid onto themselves (the
	// child keeps its ids), so that they can have a mount namespace and
	// the private view (SPEC 7.1a). Set where the host lets an
	// unprivileged user create one and mount in it (probed once).
	SelfUser bool
	// Private, Keep and Masked are the private view (SPEC 7.1a): the
	// directories that get an empty tmpfs of their own, the directories
	// beneath them bound back, the paths hidden. Private is empty where
	// the server cannot have a mount namespace (not root, no
	// namespaces.user); Missing then says so.
	Private, Keep, Masked []string
	// HideRead are the hidden paths with every symbolic link above them
	// followed (a hidden link: its target too), for the read layer that
	// keeps them unreadable when the host replaces them (stage.FlagHideReads;
	// Landlock). Empty with a jail, or where the host has no Landlock
	// (Missing says so).
	HideRead []string
	hideOn   bool // the read layer is on (HideRead may still be empty: nothing it can cover)
	// Missing names each guarantee of SPEC 7.1 this host cannot give, for
	// reports (stderr at start, doctor, process_get_policy).
	Missing []string
	// Network is the network keys' mode (network.go); any mode but open
	// sets Namespaces.Network.
	Network config.NetworkMode

	err error // set by IsolationFor when the isolation cannot be built: every launch fails with it
}

// mountNS reports whether the stage needs a mount namespace of its own:
// asked for, or needed by a fresh /proc (pid), a fresh /sys (network), a
// jail or the read-only filesystem.
func (iso *Isolation) mountNS() bool {
	return iso.Namespaces.Mount || iso.Namespaces.PID || iso.Namespaces.Network || iso.Root != "" || iso.Compose || iso.ReadOnly || len(iso.Private) > 0
}

// IsolationFor builds the isolation that c asks for. On error (an unknown
// capability, a seccomp program that cannot be built, no MAC module) the
// returned Isolation makes every launch fail with that error: a launcher
// never runs a child with less isolation than configured.
func IsolationFor(c *config.Config) (Isolation, error) {
	var iso Isolation
	fail := func(err error) (Isolation, error) {
		iso.err = err
		return iso, err
	}
	iso.setFilesystem(c)
	if err := iso.setCredentials(c); err != nil {
		return fail(err)
	}
	if err := iso.setKernelFilters(c); err != nil {
		return fail(err)
	}
	if c.EnableMAC {
		path, value, err := config.MACExec(c.MacProfile)
		if err != nil {
			return fail(err)
		}
		iso.MACPath, iso.MACValue = path, value
	}
	if err := iso.setExecutableScope(c); err != nil {
		return fail(err)
	}
	iso.privateView(c)
	if err := iso.network(c); err != nil {
		return fail(err)
	}
	return iso, nil
}

// setFilesystem sets the namespaces, the jail (chroot or composed), the
// read-only filesystem and its tmpfs, and what stays writable under
// Landlock or the read-only filesystem.
func (iso *Isolation) setFilesystem(c *config.Config) {
	if c.EnableNamespaces {
		iso.Namespaces = c.Namespaces
	}
	if c.EnableChroot {
		if c.ChrootDirectory == "" {
			iso.composeJail(c)
		} else {
			iso.Root = filepath.Clean(c.ChrootDirectory)
		}
	}
	iso.ReadOnly = c.ReadOnlyFilesystem
	if iso.ReadOnly {
		iso.TmpfsMB = c.TmpfsSize
	}
	iso.Landlock = c.Landlock
	if iso.Landlock {
		// Every allowed working directory stays writable (SPEC 7.1a), not
		// only the launch's own.
		for _, d := range c.AllowedWorkingDirectories {
			if !filepath.IsAbs(d) {
				continue
			}
			// The real path, as the policy compares working directories:
			// the stage opens it refusing any link (one planted later
			// cannot redirect it) and leaves a link read-only.
			if iso.Root == "" {
				if real, err := filepath.EvalSymlinks(d); err == nil {
					d = real
				}
			}
			iso.Dirs = append(iso.Dirs, filepath.Clean(d))
		}
	}
	if iso.ReadOnly || iso.Landlock {
		for _, p := range c.WritablePaths {
			// Config validation refused paths through symbolic links; every
			// launch opens these refusing any link, so one planted later
			// cannot redirect the writable path.
			iso.WritablePaths = append(iso.WritablePaths, filepath.Clean(p))
		}
	}
}

// setCredentials sets the capabilities kept (keepCapabilities less
// dropCapabilities; an unknown name is an error) and the identity the
// child runs as.
func (iso *Isolation) setCredentials(c *config.Config) error {
	keep, bad := config.CapabilityMask(c.KeepCapabilities)
	if bad == "" {
		var drop uint64
		drop, bad = config.CapabilityMask(c.DropCapabilities)
		keep &^= drop
	}
	if bad != "" {
		return errcode.Fail(errcode.InvalidInput, layers.Capabilities, "use names such as CAP_NET_BIND_SERVICE, or ALL",
			"unknown capability %q", bad)
	}
	iso.KeepCaps = keep
	id, idErr := c.Identity()
	if idErr != nil {
		return idErr
	}
	iso.Identity = id
	return nil
}

// setKernelFilters sets the Landlock scoping (or records it missing) and
// builds the seccomp program: the baseline, or the configured profile.
func (iso *Isolation) setKernelFilters(c *config.Config) error {
	if err := hostfeat.LandlockScope(); err == nil {
		iso.Scope = true
	} else {
		iso.Missing = append(iso.Missing, "signal and abstract-socket scoping of children (Landlock ABI 6): "+err.Error())
	}
	// The seccomp baseline is always on (SPEC 7.1, 7.1a); a profile is
	// one program with it. Config validation refused enableSeccomp on a
	// host without seccomp; without a profile, such a host runs children
	// without the baseline and says so.
	iso.UnixSockets = c.AllowUnixSockets
	profile := seccomp.Baseline
	if c.EnableSeccomp {
		profile = c.SeccompProfile
	}
	if ok, why := seccomp.Available(); ok || profile != seccomp.Baseline {
		prog, err := seccomp.Program(profile, c.AllowUnixSockets)
		if err != nil {
			return err
		}
		iso.SeccompProfile, iso.Seccomp = profile, prog
	} else {
		iso.Missing = append(iso.Missing, "seccomp baseline (no AF_VSOCK sockets, no io_uring, no unix sockets but socketpair): "+why)
	}
	return nil
}

// setExecutableScope sets the executables a launch may run under the
// "tree" executablePolicyScope (the whole tree, not only the launch).
func (iso *Isolation) setExecutableScope(c *config.Config) error {
	// A config that did not go through config.Load has scope "": the
	// "launch" scope, as before the key existed.
	if c.ExecutablePolicyScope == config.ScopeTree {
		paths, err := policy.TreeExecutables(c)
		if err != nil {
			return err
		}
		iso.ExecPaths = append([]string{}, paths...) // non-nil: the tree scope even when empty
		if iso.Compose {
			iso.composeExecDirs()
		}
	}
	return nil
}

// Layers names the isolation layers iso adds to every child, for reports
// (process_get_policy, doctor, a launch's sandbox field).
func (iso *Isolation) Layers() []string {
	var l []string
	var ns []string
	for _, n := range []struct {
		on   bool
		name string
	}{{iso.Namespaces.User, "user"}, {iso.SelfUser, "user (own ids)"}, {iso.Namespaces.PID, "pid"}, {iso.mountNS(), "mount"},
		{iso.Namespaces.Network, "network"}, {iso.Namespaces.UTS, "uts"}, {iso.Namespaces.IPC, "ipc"}} {
		if n.on {
			ns = append(ns, n.name)
		}
	}
	if len(ns) > 0 {
		l = append(l, "namespaces ("+strings.Join(ns, ", ")+")")
	}
	if iso.Root != "" {
		l = append(l, "chroot ("+iso.Root+")")
	}
	if iso.Compose {
		l = append(l, iso.composedLayer())
	}
	if iso.ReadOnly {
		l = append(l, "read-only filesystem")
	}
	if len(iso.Private) > 0 {
		l = append(l, privateViewLayer)
		if len(iso.HideRead) > 0 {
			l = append(l, hideReadLayer)
		}
	}
	if iso.Identity.Set {
		l = append(l, "identity ("+iso.Identity.Describe()+")")
	}
	if iso.Landlock {
		l = append(l, "landlock")
	}
	if iso.Scope {
		l = append(l, "landlock scope (signals, abstract unix sockets, ptrace)")
	}
	if iso.Seccomp != nil {
		base := "seccomp baseline (no AF_UNIX, AF_VSOCK sockets, no io_uring)"
		if iso.UnixSockets {
			base = "seccomp baseline (no AF_VSOCK sockets, no io_uring; unix sockets allowed)"
		}
		l = append(l, base)
		if iso.SeccompProfile != seccomp.Baseline {
			l = append(l, "seccomp ("+iso.SeccompProfile+")")
		}
	}
	if iso.MACPath != "" {
		l = append(l, "mac ("+iso.MACValue+")")
	}
	if n := iso.networkLayer(); n != "" {
		l = append(l, n)
	}
	if iso.ExecPaths != nil {
		l = append(l, "executables for the whole tree ("+strconv.Itoa(len(iso.ExecPaths))+" exec-able files, Landlock)")
	}
	return l
}
