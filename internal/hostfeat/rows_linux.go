//go:build linux

package hostfeat

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// run is each named probe's answer, as doctor prints it.
var run = map[string]func() Result{
	NamespaceUser: namespaceRow(NamespaceUser), NamespacePID: namespaceRow(NamespacePID),
	NamespaceNet: namespaceRow(NamespaceNet), NamespaceMount: namespaceRow(NamespaceMount),
	NamespaceUTS: namespaceRow(NamespaceUTS), NamespaceIPC: namespaceRow(NamespaceIPC),
	CgroupV2Row: cgroupV2Row, CgroupV1Row: cgroupV1Row,
	LandlockRow: landlockRow, ScopeRow: scopeRow, TCPConnectRow: tcpConnectRow,
	MountSetattrRow: mountSetattrRow, ServerRootRow: serverRootRow,
	AppArmorRow: appArmorRow, SELinuxRow: seLinuxRow, ChrootRow: chrootRow, CapabilitiesRow: capabilitiesRow,
}

// namespaceRow reports one namespace type (Namespace, the probe config
// refuses by); for user namespaces with max_user_namespaces.
func namespaceRow(row string) func() Result {
	ns := nsKinds[row]
	return func() Result {
		err := Namespace(ns.kind)
		if err != nil {
			return Result{false, err.Error()}
		}
		d := "/proc/self/ns/" + ns.file
		if n, ok := maxUserNamespaces(); ok && ns.kind == "user" {
			d += ", max_user_namespaces=" + n
		}
		return Result{true, d}
	}
}

func landlockRow() Result {
	abi, err := LandlockABI()
	if err != nil {
		return Result{false, err.Error()}
	}
	return Result{true, "ABI " + strconv.Itoa(abi)}
}

func scopeRow() Result {
	if err := LandlockScope(); err != nil {
		return Result{false, err.Error() + ": a child of the server's uid may signal the server and other launches"}
	}
	return Result{true, "children cannot signal, or connect to the abstract unix sockets of, processes outside their Landlock domain (ABI 6)"}
}

func tcpConnectRow() Result {
	if err := LandlockTCP(); err != nil {
		return Result{false, err.Error() + ": the empty network namespace holds alone"}
	}
	return Result{true, "Landlock TCP rules (ABI 4): an allowlist launch without the capture may connect to the proxy ports only (blockNetworkAccess needs none: its namespace reaches nothing, and the child's own loopback stays usable)"}
}

func mountSetattrRow() Result {
	if err := MountSetattr(); err != nil {
		return Result{false, err.Error() + ": readOnlyFilesystem is refused on this kernel"}
	}
	return Result{true, "read-only filesystem in one call (Linux 5.12+)"}
}

func serverRootRow() Result {
	return Result{Root(), "euid " + strconv.Itoa(os.Geteuid()) + ": chroot, read-only filesystem and keepCapabilities need root or namespaces.user"}
}

func appArmorRow() Result {
	attr, err := AppArmor()
	if err != nil {
		return Result{false, err.Error()}
	}
	return Result{true, "enabled; exec labels through " + attr}
}

func seLinuxRow() Result {
	attr, err := SELinux()
	if err != nil {
		return Result{false, err.Error()}
	}
	return Result{true, "/sys/fs/selinux; exec labels through " + attr}
}

func chrootRow() Result {
	eff, _ := Capabilities()
	if HasCapability(eff, unix.CAP_SYS_CHROOT) {
		return Result{true, "CAP_SYS_CHROOT held"}
	}
	return Result{false, "needs CAP_SYS_CHROOT (or a user namespace)"}
}

func capabilitiesRow() Result {
	eff, bnd := Capabilities()
	return Result{eff != "", "CapEff=" + eff + " CapBnd=" + bnd}
}

// cgroupV2Row reports the cgroup2 mount (the unified one, or the hybrid
// layout's) with its controllers, and whether it has cgroup.kill.
func cgroupV2Row() Result {
	for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		b, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
		if err != nil {
			continue
		}
		ctrl := strings.TrimSpace(string(b))
		if ctrl == "" {
			ctrl = "(no controllers)"
		}
		d := mnt + " controllers: " + ctrl
		if _, err := os.Stat(filepath.Join(mnt, "cgroup.kill")); err == nil {
			d += "; cgroup.kill available"
		}
		return Result{true, d}
	}
	return Result{false, "no cgroup2 mount found"}
}

// cgroupV1Row reports the v1 controllers that are enabled, attached to a
// hierarchy (/proc/cgroups) and mounted under /sys/fs/cgroup.
func cgroupV1Row() Result {
	var v1 []string
	if b, err := os.ReadFile("/proc/cgroups"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 4 && fields[1] != "0" && fields[3] == "1" {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", fields[0])); err == nil {
					v1 = append(v1, fields[0])
				}
			}
		}
	}
	return Result{len(v1) > 0, "controllers mounted: " + strings.Join(v1, ",")}
}
