//go:build linux

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
	"github.com/mcp-process/mcp-process/internal/selfprotect"
)

// hostFeatures probes the kernel features of SPEC section 1, in doctor's
// order.
func hostFeatures() []feature {
	fs := namespaceFeatures()
	fs = append(fs, cgroupFeatures()...)
	fs = append(fs, seccompFeature())
	fs = append(fs, landlockFeatures()...)
	fs = append(fs, mountSetattrFeature())
	fs = append(fs, networkFeatures()...)
	fs = append(fs, feature{"user-namespace-mapping", true, sandbox.UserMapping()})
	fs = append(fs, feature{"server-root", os.Geteuid() == 0, "euid " + strconv.Itoa(os.Geteuid()) + ": chroot, read-only filesystem and keepCapabilities need root or namespaces.user"})
	return append(fs, privilegeFeatures()...)
}

// namespaceFeatures reports each namespace type (the kernel probes are
// config's, the ones Validate refuses by).
func namespaceFeatures() []feature {
	var fs []feature
	for _, ns := range []struct{ name, key, file string }{{"user", "user", "user"}, {"pid", "pid", "pid"}, {"net", "network", "net"}, {"mount", "mount", "mnt"}, {"uts", "uts", "uts"}, {"ipc", "ipc", "ipc"}} {
		err := config.ProbeNamespace(ns.key)
		d := "/proc/self/ns/" + ns.file
		if err != nil {
			d = err.Error()
		} else if ns.name == "user" {
			if b, e := os.ReadFile("/proc/sys/user/max_user_namespaces"); e == nil {
				d += ", max_user_namespaces=" + strings.TrimSpace(string(b))
			}
		}
		fs = append(fs, feature{"namespace:" + ns.name, err == nil, d})
	}
	return fs
}

// seccompFeature reports seccomp filter mode and the profiles.
func seccompFeature() feature {
	sc := feature{Name: "seccomp"}
	sc.Available, sc.Detail = seccomp.Available()
	if sc.Available && sc.Detail == "" {
		sc.Detail = "filter mode; profiles " + strings.Join(seccomp.Profiles(), ", ")
	}
	return sc
}

// landlockFeatures reports Landlock's ABI, its scoping, the server's own
// protection from its children (which the scoping completes) and the
// executable scope Landlock makes the default.
func landlockFeatures() []feature {
	ll := feature{Name: "landlock"}
	if abi, err := config.LandlockABI(); err == nil {
		ll.Available, ll.Detail = true, "ABI "+strconv.Itoa(abi)
	} else {
		ll.Detail = err.Error()
	}
	sc := feature{Name: "landlock-scope", Detail: "children cannot signal, or connect to the abstract unix sockets of, processes outside their Landlock domain (ABI 6)"}
	if err := sandbox.ScopeSupport(); err == nil {
		sc.Available = true
	} else {
		sc.Detail = err.Error() + ": a child of the server's uid may signal the server and other launches"
	}
	nd := feature{Name: "server-non-dumpable", Detail: "PR_SET_DUMPABLE 0 from the server's first instructions: no same-uid child can ptrace it or take its descriptors"}
	if err := selfprotect.Err(); err == nil {
		nd.Available = true
	} else {
		nd.Detail = err.Error()
	}
	scope := feature{Name: "executable-scope-tree", Available: ll.Available, Detail: "executablePolicyScope defaults to \"tree\" here: a launch's whole tree may exec only the allowed files"}
	if !ll.Available {
		scope.Detail = "no Landlock: executablePolicyScope defaults to \"launch\" (only the launched file is checked) and \"tree\" is refused"
	}
	return []feature{ll, sc, nd, scope}
}

// mountSetattrFeature reports mount_setattr (readOnlyFilesystem).
func mountSetattrFeature() feature {
	ms := feature{Name: "mount_setattr", Detail: "read-only filesystem in one call (Linux 5.12+)"}
	if err := config.ProbeMountSetattr(); err == nil {
		ms.Available = true
	} else {
		ms.Detail = err.Error() + ": readOnlyFilesystem is refused on this kernel"
	}
	return ms
}

// privilegeFeatures reports the LSMs (AppArmor, SELinux), CAP_SYS_CHROOT
// and the server's capability sets.
func privilegeFeatures() []feature {
	aa := feature{Name: "apparmor", Detail: "/sys/module/apparmor/parameters/enabled not Y"}
	if b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled"); err == nil && strings.TrimSpace(string(b)) == "Y" {
		aa.Available, aa.Detail = true, "enabled"
	}
	se := feature{Name: "selinux", Detail: "/sys/fs/selinux not mounted"}
	if _, err := os.Stat("/sys/fs/selinux/enforce"); err == nil {
		se.Available, se.Detail = true, "/sys/fs/selinux"
	}
	capEff := procStatusField("CapEff")
	chroot := feature{Name: "chroot", Detail: "needs CAP_SYS_CHROOT (or a user namespace)"}
	if v, err := strconv.ParseUint(capEff, 16, 64); err == nil && v&(1<<unix.CAP_SYS_CHROOT) != 0 {
		chroot.Available, chroot.Detail = true, "CAP_SYS_CHROOT held"
	}
	return []feature{aa, se, chroot, {"capabilities", capEff != "", "CapEff=" + capEff + " CapBnd=" + procStatusField("CapBnd")}}
}

func procStatusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// cgroupFeatures reports cgroup v2 (the unified mount and its controllers)
// and the v1 controllers this host has.
func cgroupFeatures() []feature {
	var out []feature
	for _, mnt := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		b, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
		if err != nil {
			continue
		}
		ctrl := strings.TrimSpace(string(b))
		if ctrl == "" {
			ctrl = "(no controllers)"
		}
		_, kerr := os.Stat(filepath.Join(mnt, "cgroup.kill"))
		d := mnt + " controllers: " + ctrl
		if kerr == nil {
			d += "; cgroup.kill available"
		}
		out = append(out, feature{"cgroup-v2", true, d})
		break
	}
	if len(out) == 0 {
		out = append(out, feature{"cgroup-v2", false, "no cgroup2 mount found"})
	}
	b, err := os.ReadFile("/proc/cgroups")
	var v1 []string
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 4 && fields[1] != "0" && fields[3] == "1" {
				if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", fields[0])); err == nil {
					v1 = append(v1, fields[0])
				}
			}
		}
	}
	out = append(out, feature{"cgroup-v1", len(v1) > 0, "controllers mounted: " + strings.Join(v1, ",")})
	return out
}
