//go:build linux

package sandbox

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// selfUserProbeArg makes this binary (the server, or a test binary) the
// probe of selfUserNS: it runs in the namespaces the probe asks for and
// exits 0 if it could mount there.
const selfUserProbeArg = "__mcp_process_userns_probe"

func init() {
	if len(os.Args) == 2 && os.Args[1] == selfUserProbeArg {
		os.Exit(selfUserProbe())
	}
}

// selfUserProbe: every mount private, then a tmpfs on /tmp, as the
// private view does; the mount namespace is the probe's own.
func selfUserProbe() int {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		os.Stderr.WriteString("make mounts private: " + err.Error())
		return 1
	}
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
		os.Stderr.WriteString("mount a tmpfs: " + err.Error())
		return 1
	}
	return 0
}

// stageAmbientCaps are the capabilities (in its own user namespace) a
// stage that is not uid 0 there keeps across its exec: mounts and
// pivot_root, the bounding set, lo up and the egress capture, chroot, the
// egress listeners on ports below 1024.
var stageAmbientCaps = []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_SETPCAP, unix.CAP_NET_ADMIN, unix.CAP_SYS_CHROOT, unix.CAP_NET_BIND_SERVICE}

var selfUser struct {
	once sync.Once
	err  error
}

// selfUserNS reports whether this unprivileged process can give a child a
// user namespace mapping its own ids and a mount namespace in which the
// child may mount (some hosts refuse unprivileged user namespaces, or, as
// Ubuntu's AppArmor restriction does, let them be created without any
// capability inside). Probed once per process, by starting a child.
func selfUserNS() error {
	selfUser.once.Do(func() {
		if os.Geteuid() == 0 {
			selfUser.err = errors.New("root needs no self-mapped user namespace")
			return
		}
		cmd := exec.Command("/proc/self/exe", selfUserProbeArg)
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}},
			Pdeathsig:   syscall.SIGKILL,
			AmbientCaps: stageAmbientCaps,
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		restore := dumpableWhile()
		err := cmd.Start()
		restore()
		if err == nil {
			err = cmd.Wait()
		}
		if err != nil {
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			selfUser.err = errors.New("unprivileged user namespace with mounts: " + msg)
		}
	})
	return selfUser.err
}
