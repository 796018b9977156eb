//go:build linux

package sandbox

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/mcp-process/mcp-process/internal/agenthome"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// userRangeSize is how many ids a root server maps into a child's user
// namespace (inside 0..65535).
const userRangeSize = 65536

// fallbackHostID is the first host id of that range when /etc/subuid (or
// /etc/subgid) gives root none: far above any real account.
const fallbackHostID = 1 << 31

// subordinate returns root's first subordinate id range of at least
// userRangeSize ids from file (/etc/subuid or /etc/subgid), else the
// fallback range.
func subordinate(file string) int {
	f, err := os.Open(file)
	if err != nil {
		return fallbackHostID
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 || (parts[0] != "root" && parts[0] != "0") {
			continue
		}
		start, err1 := strconv.Atoi(parts[1])
		count, err2 := strconv.Atoi(parts[2])
		if err1 == nil && err2 == nil && start > 0 && count >= userRangeSize {
			return start
		}
	}
	return fallbackHostID
}

// sysProcAttr is how every stage is cloned: its own session and process group,
// SIGKILL when the launcher thread dies, and the namespaces of iso. With a
// user namespace the stage is root inside (it needs that for its mounts,
// host name and loopback); outside it is, for a root server, an id of an
// unused range (root's subordinate ids, else 2^31...), so that not even
// root inside is anybody on the host, and for an unprivileged server the
// server's own uid and gid (the only ids it may map).
func (iso *Isolation) sysProcAttr() *syscall.SysProcAttr {
	// Setsid: a session of its own (so also its own process group, pgid =
	// pid) and no controlling terminal: a child can never reach the
	// terminal of whoever started the server (TIOCSTI, /dev/tty).
	sys := &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL}
	ns := iso.Namespaces
	for _, f := range []struct {
		on   bool
		flag uintptr
	}{{ns.User || iso.SelfUser, syscall.CLONE_NEWUSER}, {ns.PID, syscall.CLONE_NEWPID}, {iso.mountNS(), syscall.CLONE_NEWNS},
		{ns.Network, syscall.CLONE_NEWNET}, {ns.UTS, syscall.CLONE_NEWUTS}, {ns.IPC, syscall.CLONE_NEWIPC}} {
		if f.on {
			sys.Cloneflags |= f.flag
		}
	}
	if ns.User {
		if os.Geteuid() == 0 {
			sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: subordinate("/etc/subuid"), Size: userRangeSize}}
			sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: subordinate("/etc/subgid"), Size: userRangeSize}}
			sys.GidMappingsEnableSetgroups = true
			// No supplementary groups: the server's (root's) would follow the child.
			sys.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
		} else {
			sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
			sys.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
		}
	} else if iso.SelfUser {
		// The server's own ids onto themselves: the child is who it would
		// be without the namespace (and no capability survives its exec).
		sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
		// The stage (not uid 0 inside) keeps what it needs for its steps
		// across its own exec, in the namespace only; it drops them all
		// for the target (capabilities step).
		sys.AmbientCaps = stageAmbientCaps
	}
	return sys
}

// HomeOwner is the host uid and gid of the children, who own their
// agent's HOME: for a root server the identity (mapped onto the host
// through the user namespace's range when namespaces.user is on); for a
// non-root server its own ids (Set false: nothing to chown).
func (iso *Isolation) HomeOwner() agenthome.Owner {
	if os.Geteuid() != 0 || !iso.Identity.Set {
		return agenthome.Owner{}
	}
	uid, gid := iso.Identity.UID, iso.Identity.GID
	if iso.Namespaces.User {
		uid += uint32(subordinate("/etc/subuid"))
		gid += uint32(subordinate("/etc/subgid"))
	}
	return agenthome.Owner{Set: true, UID: uid, GID: gid}
}

// apply adds iso's steps to a stage config.
func (iso *Isolation) apply(c *stage.Config) {
	c.Flags |= stage.FlagCaps
	c.CapKeep = iso.KeepCaps
	if iso.mountNS() {
		c.Flags |= stage.FlagMountNS
	}
	if iso.Namespaces.PID {
		c.Flags |= stage.FlagProc
	}
	if iso.Namespaces.Network {
		c.Flags |= stage.FlagLoopback | stage.FlagSysfs // mountNS() is true with Network
	}
	// blockNetworkAccess needs nothing more than the empty namespace: the
	// child's own loopback stays usable (a dev server and its tests).
	if iso.Network == config.NetworkProxy {
		c.Flags |= stage.FlagEgress
	}
	if iso.Namespaces.UTS {
		c.Hostname = stage.Hostname
	}
	c.Root = iso.Root
	if iso.Compose {
		c.Flags |= stage.FlagCompose
		c.ComposeRO, c.ComposeRW, c.ComposeLinks = iso.ComposeRO, iso.ComposeRW, iso.ComposeLinks
	}
	if iso.ReadOnly {
		c.Flags |= stage.FlagReadOnly
		c.TmpfsMB = uint64(iso.TmpfsMB)
	}
	if iso.Landlock {
		c.Flags |= stage.FlagLandlock
		c.Dirs = iso.Dirs
	}
	if iso.Identity.Set {
		c.Flags |= stage.FlagIdentity
		c.UID, c.GID = iso.Identity.UID, iso.Identity.GID
	}
	if iso.Scope {
		c.Flags |= stage.FlagScope
	}
	if iso.ExecPaths != nil {
		c.Flags |= stage.FlagExecScope
		c.Exec = iso.ExecPaths
	}
	if len(iso.Private) > 0 {
		c.Flags |= stage.FlagPrivate
		c.Private, c.Keep, c.Masked, c.Sealed = iso.Private, iso.Keep, iso.Masked, iso.Sealed
		if len(iso.HideRead) > 0 {
			c.Flags |= stage.FlagHideReads
			c.HideRead = iso.HideRead
		}
	}
	c.Writable = iso.WritablePaths
	c.Seccomp = iso.Seccomp
	c.MACPath, c.MACValue = iso.MACPath, iso.MACValue
}

// UserMapping describes how a child's user namespace maps its ids onto the
// host, for reports (doctor): for a root server, inside 0..65535 onto
// root's subordinate range (or the fallback range); for an unprivileged
// server, inside 0 onto the server's own uid/gid.
func UserMapping() string {
	if os.Geteuid() != 0 {
		return "inside uid/gid 0 → the server's own uid " + strconv.Itoa(os.Geteuid()) + " / gid " + strconv.Itoa(os.Getegid())
	}
	uid, gid := subordinate("/etc/subuid"), subordinate("/etc/subgid")
	src := "root's ranges in /etc/subuid and /etc/subgid"
	if uid == fallbackHostID || gid == fallbackHostID {
		src = "no range for root in /etc/subuid or /etc/subgid: an unused range from 2^31"
	}
	return "inside ids 0..65535 → host uids from " + strconv.Itoa(uid) + ", gids from " + strconv.Itoa(gid) + " (" + src + ")"
}
