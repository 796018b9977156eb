// Package hostfeat probes what the running kernel and host give the
// sandbox: namespaces, mount_setattr(2), Landlock (its ABI, the scoping of
// a domain, TCP rules), seccomp filters, the exec-labelling LSMs
// (AppArmor, SELinux), the server's euid and capability sets, nf_tables
// and the cgroup hierarchies. It is the one place they are probed: config
// refuses a layer by them, the sandbox builds its isolation by them, and
// doctor prints them (each of its rows is a probe that a layer's registry
// entry names, internal/layer).
//
// It guarantees:
//   - each probe makes the real kernel call, or reads the kernel's own
//     file, that it is named after: nothing is inferred from a kernel
//     version, guessed from another probe or assumed;
//   - a probe whose answer cannot change while the process runs (whether
//     a system call exists, the Landlock ABI and its scoping, seccomp's
//     filter mode) runs once per process and is cached; one whose answer
//     can change (a sysctl, the LSMs' attribute files, the capability
//     sets, the cgroup mounts, the euid) runs at each call;
//   - a missing feature is an error that says what is missing and, where
//     the kernel says, why;
//   - off Linux every probe reports its feature unavailable;
//   - it imports nothing of this module, so every package can use it.
//
// Two probes stay in internal/sandbox because they start a child of the
// server in the sandbox's own way (its dumpable window, the stage's
// ambient capabilities): whether an unprivileged server can give a child
// a mount namespace, and the nf_tables capture in a child's network
// namespace (whose kernel call, NFTables, is here).
package hostfeat

// A Result is one probe's answer as doctor prints it: whether the host has
// the feature, and what it has or why not.
type Result struct {
	Available bool
	Detail    string
}

// A Probe is one named check of the host; its name is a row of doctor.
type Probe struct {
	Name string
	Run  func() Result
}

// The names of the probes (doctor's rows), as the layer registry's Doctor
// entries name them.
const (
	NamespaceUser   = "namespace:user"
	NamespacePID    = "namespace:pid"
	NamespaceNet    = "namespace:net"
	NamespaceMount  = "namespace:mount"
	NamespaceUTS    = "namespace:uts"
	NamespaceIPC    = "namespace:ipc"
	CgroupV2Row     = "cgroup-v2"
	CgroupV1Row     = "cgroup-v1"
	LandlockRow     = "landlock"
	ScopeRow        = "landlock-scope"
	TCPConnectRow   = "landlock-tcp-connect"
	MountSetattrRow = "mount_setattr"
	ServerRootRow   = "server-root"
	AppArmorRow     = "apparmor"
	SELinuxRow      = "selinux"
	ChrootRow       = "chroot"
	CapabilitiesRow = "capabilities"
)

// names is every probe of this package, in the order Probes returns them.
var names = []string{
	NamespaceUser, NamespacePID, NamespaceNet, NamespaceMount, NamespaceUTS, NamespaceIPC,
	CgroupV2Row, CgroupV1Row, LandlockRow, ScopeRow, TCPConnectRow, MountSetattrRow,
	ServerRootRow, AppArmorRow, SELinuxRow, ChrootRow, CapabilitiesRow,
}

// Probes returns every named probe of this package, in a fixed order. A
// probe runs when its Run is called, not before.
func Probes() []Probe {
	out := make([]Probe, len(names))
	for i, n := range names {
		out[i] = Probe{Name: n, Run: run[n]}
	}
	return out
}

// nsKinds maps a namespace row to the kind Namespace takes and the file
// of /proc/self/ns.
var nsKinds = map[string]struct{ kind, file string }{
	NamespaceUser: {"user", "user"}, NamespacePID: {"pid", "pid"}, NamespaceNet: {"network", "net"},
	NamespaceMount: {"mount", "mnt"}, NamespaceUTS: {"uts", "uts"}, NamespaceIPC: {"ipc", "ipc"},
}
