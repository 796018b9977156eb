package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// feature is one kernel feature as doctor reports it.
type feature struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Detail    string `json:"detail"`
}

// cmdDoctor reports which kernel features this host has and, with a
// config, whether every layer it asks for can be enforced (exit 0/2).
func cmdDoctor(args []string, stdout io.Writer) error {
	fs := newFlagSet("doctor")
	var f commonFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	feats := hostFeatures()
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	defer cg.Close()
	feats = append(feats, cgroupChoice(cg))
	var cfgErr error
	var layers map[string]string
	if f.config != "" || f.profile != "" {
		loaded, _, err := loadPolicy(f)
		if err != nil {
			cfgErr = err
		} else {
			layers = layerStates(loaded.Config, cg)
		}
	}
	if *asJSON {
		out := map[string]any{"features": feats}
		if layers != nil {
			out["layers"] = layers
			out["configEnforceable"] = true
		}
		if cfgErr != nil {
			out["configEnforceable"] = false
			out["configError"] = cfgErr.Error()
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FEATURE\tAVAILABLE\tDETAIL")
		for _, ft := range feats {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ft.Name, yesNo(ft.Available), ft.Detail)
		}
		tw.Flush()
		if layers != nil {
			fmt.Fprintln(stdout, "\nconfig: every layer it asks for can be enforced by this build on this host")
		}
	}
	if cfgErr != nil {
		return cfgErr
	}
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func hostFeatures() []feature {
	var fs []feature
	for _, ns := range []struct{ name, file string }{{"user", "user"}, {"pid", "pid"}, {"net", "net"}, {"mount", "mnt"}, {"uts", "uts"}, {"ipc", "ipc"}} {
		_, err := os.Stat("/proc/self/ns/" + ns.file)
		d := "/proc/self/ns/" + ns.file
		if err != nil {
			d = err.Error()
		}
		if ns.name == "user" && err == nil {
			if b, e := os.ReadFile("/proc/sys/user/max_user_namespaces"); e == nil {
				d += ", max_user_namespaces=" + strings.TrimSpace(string(b))
				if strings.TrimSpace(string(b)) == "0" {
					err = os.ErrPermission
				}
			}
		}
		fs = append(fs, feature{"namespace:" + ns.name, err == nil, d})
	}
	fs = append(fs, cgroupFeatures()...)
	seccomp := feature{Name: "seccomp"}
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err == nil {
		seccomp.Available, seccomp.Detail = true, "prctl(PR_GET_SECCOMP) works; filter mode via seccomp(2)"
	} else {
		seccomp.Detail = err.Error()
	}
	fs = append(fs, seccomp)
	ll := feature{Name: "landlock"}
	const landlockCreateRulesetVersion = 1
	if abi, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, landlockCreateRulesetVersion); errno == 0 {
		ll.Available, ll.Detail = true, "ABI "+strconv.Itoa(int(abi))
	} else {
		ll.Detail = errno.Error()
	}
	fs = append(fs, ll)
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
	fs = append(fs, aa, se, chroot, feature{"capabilities", capEff != "", "CapEff=" + capEff + " CapBnd=" + procStatusField("CapBnd")})
	return fs
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

// cgroupChoice reports the cgroup layout the server would use here.
func cgroupChoice(cg *cgroup.Manager) feature {
	cs := cg.Support()
	return feature{"cgroup-choice", cs.Version != "none", cs.Version + ": " + resourceLimitsState(cg)}
}
