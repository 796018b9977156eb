//go:build linux

package escape

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The layers, as configuration keys. keep(...) is the capabilities a root
// server's child keeps (none by default): a test of another layer keeps
// the one capability the attack needs, so that only that layer stops it,
// and its baseline shows the attack then works.
var (
	pidNS   = layer{"enableNamespaces": true, "namespaces": map[string]any{"pid": true}}
	netNS   = layer{"enableNamespaces": true, "namespaces": map[string]any{"network": true}}
	mountNS = layer{"enableNamespaces": true, "namespaces": map[string]any{"mount": true}}
	utsNS   = layer{"enableNamespaces": true, "namespaces": map[string]any{"uts": true}}
	ipcNS   = layer{"enableNamespaces": true, "namespaces": map[string]any{"ipc": true}}
	userNS  = layer{"enableNamespaces": true, "namespaces": map[string]any{"user": true}}
	// userNSRoot: uid and gid 0 inside a user namespace (the only way a
	// root server's child may be uid 0: an unused id on the host).
	userNSRoot = layer{"enableNamespaces": true, "namespaces": map[string]any{"user": true}, "runAsUser": 0, "runAsGroup": 0}
	// shadowGroup: the children keep the group that may read /etc/shadow,
	// so that a baseline without the layer under test can read it.
	shadowGroup = layer{"runAsGroup": "shadow"}
	landlock    = layer{"landlock": true}
	readOnly    = layer{"readOnlyFilesystem": true}
	permissve   = seccompProfile("permissive")
	moderate    = seccompProfile("moderate")
	strict      = seccompProfile("strict")
)

// Why an unprivileged server's test adds a user namespace, or skips.
const (
	nsNeedsUserNS   = "an unprivileged server creates the other namespaces only inside a user namespace"
	jailNeedsUserNS = "an unprivileged server enters a jail only inside a user namespace"
	roNeedsUserNS   = "an unprivileged server remounts the filesystem read-only only inside a user namespace"
	unprivBpf       = "BPF_MAP_CREATE needs CAP_BPF in the host's user namespace (kernel.unprivileged_bpf_disabled), which an unprivileged server cannot give: keepCapabilities without namespaces.user is refused (KeepCapabilities_unprivilegedServer), and within one CAP_BPF does not count for bpf(2)"
)

func seccompProfile(p string) layer { return layer{"enableSeccomp": true, "seccompProfile": p} }

func keep(caps ...string) layer { return layer{"keepCapabilities": caps} }

// --- chroot (pivot_root) ---

func TestEscape_ReadShadowFromChroot_chroot(t *testing.T) {
	rootServerOnly(t, "the server's uid cannot read /etc/shadow with or without a jail, so the baseline cannot work; ReadHostHostnameFromChroot_chroot is the jail test of an unprivileged server")
	e := newEnv(t)
	r := e.attack(t, e.jailConfig(jail(t)), "/probe", "read-file", "/etc/shadow")
	stopped(t, r, "ENOENT", "chroot: the jail has no /etc")
	escaped(t, e.attack(t, e.config(shadowGroup), probeBin, "read-file", "/etc/shadow"), "chroot (children in group shadow)")
}

func TestEscape_ReadHostHostnameFromChroot_chroot(t *testing.T) {
	u := unprivilegedAdds(t, userNS, jailNeedsUserNS)
	e := newEnv(t)
	r := e.attack(t, e.jailConfig(jail(t), u), "/probe", "read-file", "/etc/hostname")
	stopped(t, r, "ENOENT", "chroot: the jail has no /etc")
	escaped(t, e.attack(t, e.config(), probeBin, "read-file", "/etc/hostname"), "chroot")
}

// The classic chroot escape needs CAP_SYS_CHROOT: a root server's child has
// no capabilities.
func TestEscape_ChrootEscape_capabilities(t *testing.T) {
	u := unprivilegedAdds(t, userNS, jailNeedsUserNS+"; the child is root inside it, and has no CAP_SYS_CHROOT there unless kept")
	e := newEnv(t)
	marker := hostMarker(t, e)
	r := e.attack(t, e.jailConfig(jail(t), u), "/probe", "chroot-escape", marker)
	stopped(t, r, "EPERM", "capabilities: no CAP_SYS_CHROOT")
	// With CAP_SYS_CHROOT the chroot call goes through (the pivot_root
	// test below shows the escape still fails).
	otherErrno(t, e.attack(t, e.jailConfig(jail(t), keep("CAP_SYS_CHROOT"), u), "/probe", "chroot-escape", marker),
		"EPERM", "capabilities (keepCapabilities CAP_SYS_CHROOT)")
}

// With CAP_SYS_CHROOT kept, the escape still fails: the jail is entered
// with pivot_root and the old root detached, so ".." never leaves it. A
// plain chroot(2) of the same jail (the baseline, done by the test) is
// escaped.
//
// Against an unprivileged server the jail is entered in a user namespace
// (where the child's CAP_SYS_CHROOT counts); the baseline is the same
// plain chroot(2), a fact about the jail, not about the server.
func TestEscape_ChrootEscapeWithCapSysChroot_pivotRoot(t *testing.T) {
	u := unprivilegedAdds(t, userNS, jailNeedsUserNS+" (and keepCapabilities)")
	e := newEnv(t)
	marker := hostMarker(t, e)
	root := jail(t)
	r := e.attack(t, e.jailConfig(root, keep("CAP_SYS_CHROOT"), u), "/probe", "chroot-escape", marker)
	stopped(t, r, "ENOENT", "chroot by pivot_root: the host's root is detached")
	cmd := exec.Command("/probe", "chroot-escape", marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	cmd.Dir = "/work"
	escaped(t, direct(t, cmd), "pivot_root (a plain chroot(2) of the same jail)")
}

// hostMarker is a file on the host, outside every jail, whose absolute
// path the escapes try to read.
func hostMarker(t *testing.T, e *testEnv) string {
	t.Helper()
	p := filepath.Join(e.dir, "host-marker")
	if err := os.WriteFile(p, []byte("host file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// --- namespaces ---

// The victim is a process of the server's user (root, or the
// unprivileged server's uid), which the server's user can kill.
func TestEscape_KillHostProcess_pidNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS+"; the victim is a process of the server's own uid")
	e := newEnv(t)
	v := serverUserSleeper(t)
	r := e.attack(t, e.config(pidNS, u), probeBin, "kill", v.pidArg())
	stopped(t, r, "ESRCH", "pid namespace: host pids do not exist in it")
	if !v.alive() {
		t.Fatalf("the host process %d was killed", v.pid)
	}
	// Without the pid namespace a child still cannot: it is scoped by
	// Landlock (scope_test.go), and, under a root server, another uid; the
	// probe run directly by the server's user can.
	escaped(t, direct(t, asServerUser(probe("kill", v.pidArg()))), "pid namespace (the probe run directly by the server's user)")
	v.waitDead(t)
}

func TestEscape_SeeHostPid_pidNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS)
	e := newEnv(t)
	v := hostSleeper(t)
	r := e.attack(t, e.config(pidNS, u), probeBin, "see-pid", v.pidArg())
	stopped(t, r, "ENOENT", "pid namespace with its own /proc")
	escaped(t, e.attack(t, e.config(), probeBin, "see-pid", v.pidArg()), "pid namespace")
}

// Root in a user namespace is an unused id on the host: host root's files
// and processes are someone else's.
func TestEscape_ReadShadow_userNamespace(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's user namespace maps root inside onto the server's own uid, which cannot read /etc/shadow with or without the layer: there is no baseline")
	e := newEnv(t)
	r := e.attack(t, e.config(userNSRoot), probeBin, "read-file", "/etc/shadow")
	stopped(t, r, "EACCES", "user namespace: root inside is nobody on the host")
	escaped(t, direct(t, probe("read-file", "/etc/shadow")), "user namespace (the probe run directly by root)")
}

func TestEscape_KillHostProcess_userNamespace(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's user namespace maps root inside onto the server's own uid: a root process is out of reach by uid alone, and one of the server's uid is kept out of reach by the Landlock scope (SignalServer_landlockScope, SiblingLaunch_landlockDomain), not by the user namespace")
	e := newEnv(t)
	v := hostSleeper(t)
	r := e.attack(t, e.config(userNSRoot), probeBin, "kill", v.pidArg())
	stopped(t, r, "EPERM", "user namespace: another uid on the host")
	if !v.alive() {
		t.Fatalf("the host process %d was killed", v.pid)
	}
	escaped(t, direct(t, probe("kill", v.pidArg())), "user namespace (the probe run directly by root)")
	v.waitDead(t)
}

// Even with CAP_SYS_ADMIN, a hostname set in a UTS namespace is not the
// host's.
func TestEscape_Sethostname_utsNamespace(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's child never holds CAP_SYS_ADMIN over the host's UTS namespace, so without a UTS namespace the call cannot reach the host either: there is no baseline (Sethostname_capabilities covers its child in a UTS namespace of its own)")
	e := newEnv(t)
	before, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if h, _ := os.Hostname(); h != before {
			unix.Sethostname([]byte(before))
		}
	})
	name := "escape-probe-" + strconv.Itoa(os.Getpid())
	r := e.attack(t, e.config(utsNS, keep("CAP_SYS_ADMIN")), probeBin, "sethostname", name)
	if h, _ := os.Hostname(); h != before {
		t.Fatalf("ESCAPE: the host's hostname changed to %q (%s)", h, r)
	}
	if !r.OK || !strings.Contains(r.Detail, name) {
		t.Fatalf("inside the UTS namespace the name should have changed: %s", r)
	}
	t.Logf("stopped by the UTS namespace: the child renamed only its own namespace: %s", r)
	// Without the namespace the call reaches the host (set to its current
	// name, so the baseline changes nothing).
	escaped(t, e.attack(t, e.config(keep("CAP_SYS_ADMIN")), probeBin, "sethostname", "-"), "UTS namespace")
}

// Even with CAP_SYS_ADMIN, a mount made in the child's mount namespace is
// not in the host's.
func TestEscape_MountVisibleOnHost_mountNamespace(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's child never holds CAP_SYS_ADMIN over the host's mount namespace, so without a mount namespace its mount cannot reach the host either: there is no baseline (Mount_capabilities and Mount_seccomp cover its child in a mount namespace of its own)")
	e := newEnv(t)
	target := filepath.Join(e.dir, "mnt")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for hostMounted(t, target) {
			if unix.Unmount(target, unix.MNT_DETACH) != nil {
				break
			}
		}
	})
	r := e.attack(t, e.config(mountNS, keep("CAP_SYS_ADMIN"), noFSDomain), probeBin, "mount", target, "keep")
	if hostMounted(t, target) {
		t.Fatalf("ESCAPE: the child's mount is on the host: %s", r)
	}
	if !r.OK {
		t.Fatalf("inside its mount namespace, with CAP_SYS_ADMIN, the mount should work: %s", r)
	}
	t.Logf("stopped by the mount namespace: the mount stayed in the child's namespace: %s", r)
	// Every child of a root server has a mount namespace now (the private
	// view, SPEC 7.1a): the baseline is the probe run directly by root.
	escaped(t, direct(t, probe("mount", target, "keep")), "mount namespace (the probe run directly by root)")
	if !hostMounted(t, target) {
		t.Fatalf("baseline: without a mount namespace the mount should be on the host")
	}
}

func TestEscape_ReadHostSysvShm_ipcNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS)
	e := newEnv(t)
	// Mode 0666: the children (uid 65534, or the server's) may attach it
	// on the host.
	id, err := unix.SysvShmGet(unix.IPC_PRIVATE, 4096, unix.IPC_CREAT|0o666)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.SysvShmCtl(id, unix.IPC_RMID, nil) })
	r := e.attack(t, e.config(ipcNS, u), probeBin, "sysv-shm", strconv.Itoa(id))
	stopped(t, r, "EINVAL", "IPC namespace: the host's segments do not exist in it")
	escaped(t, e.attack(t, e.config(), probeBin, "sysv-shm", strconv.Itoa(id)), "IPC namespace")
}

// hostListener accepts TCP connections on 127.0.0.1 and counts them.
func hostListener(t *testing.T) (addr string, port string, accepted func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := make(chan int, 1)
	n <- 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n <- <-n + 1
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return ln.Addr().String(), port, func() int { v := <-n; n <- v; return v }
}

func TestEscape_ConnectHostLoopback_networkNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS)
	e := newEnv(t)
	addr, _, accepted := hostListener(t)
	r := e.attack(t, e.config(netNS, u), probeBin, "socket-connect", addr)
	stopped(t, r, "", "network namespace: its loopback is not the host's")
	if r.Errno != "ECONNREFUSED" && r.Errno != "ENETUNREACH" {
		t.Fatalf("errno %q, want ECONNREFUSED or ENETUNREACH: %s", r.Errno, r)
	}
	if n := accepted(); n != 0 {
		t.Fatalf("ESCAPE: the host listener accepted %d connection(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "socket-connect", addr), "network namespace")
}

func TestEscape_SocketInetHostLoopback_networkNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS)
	e := newEnv(t)
	_, port, accepted := hostListener(t)
	r := e.attack(t, e.config(netNS, u), probeBin, "socket-inet", port)
	stopped(t, r, "", "network namespace: its loopback is not the host's")
	if r.Errno != "ECONNREFUSED" && r.Errno != "ENETUNREACH" {
		t.Fatalf("errno %q, want ECONNREFUSED or ENETUNREACH: %s", r.Errno, r)
	}
	if n := accepted(); n != 0 {
		t.Fatalf("ESCAPE: the host listener accepted %d connection(s)", n)
	}
	escaped(t, e.attack(t, e.config(), probeBin, "socket-inet", port), "network namespace")
}

// --- capabilities (a root server's children have none) ---

// Against an unprivileged server the child is root in a user namespace,
// which would give it every capability there: it gets none either. The
// baseline is the server's user outside (a full bounding set).
func TestEscape_Caps_capabilities(t *testing.T) {
	u := unprivilegedAdds(t, userNS, "root inside a user namespace holds every capability in it unless the server drops them; keepCapabilities needs the user namespace too")
	e := newEnv(t)
	r := e.attack(t, e.config(u), probeBin, "caps")
	stopped(t, r, "", "capabilities: every set empty")
	escaped(t, direct(t, asServerUser(probe("caps"))), "capabilities (the probe run directly by the server's user)")
	// keepCapabilities keeps exactly what it names (bit 10).
	k := e.attack(t, e.config(keep("CAP_NET_BIND_SERVICE"), u), probeBin, "caps")
	if !strings.Contains(k.Detail, "CapEff=0000000000000400") || !strings.Contains(k.Detail, "CapBnd=0000000000000400") {
		t.Fatalf("keepCapabilities CAP_NET_BIND_SERVICE: want exactly bit 10 effective and bounding: %s", k)
	}
}

// Against an unprivileged server: in its own user and UTS namespaces, root
// inside, the child still has no CAP_SYS_ADMIN unless kept.
func TestEscape_Sethostname_capabilities(t *testing.T) {
	u := unprivilegedAdds(t, namespaces("user", "uts"), "root in its own user namespace could rename its own UTS namespace; keepCapabilities needs the user namespace")
	e := newEnv(t)
	r := e.attack(t, e.config(u), probeBin, "sethostname", "-")
	stopped(t, r, "EPERM", "capabilities: no CAP_SYS_ADMIN")
	escaped(t, e.attack(t, e.config(keep("CAP_SYS_ADMIN"), u), probeBin, "sethostname", "-"), "capabilities (keepCapabilities CAP_SYS_ADMIN)")
}

// Against an unprivileged server: in its own user and mount namespaces,
// root inside, the child still has no CAP_SYS_ADMIN unless kept.
func TestEscape_Mount_capabilities(t *testing.T) {
	u := unprivilegedAdds(t, namespaces("user", "mount"), "root in its own user namespace could mount in its own mount namespace; keepCapabilities needs the user namespace")
	e := newEnv(t)
	r := e.attack(t, e.config(u), probeBin, "mount")
	stopped(t, r, "EPERM", "capabilities: no CAP_SYS_ADMIN")
	// launchScope: a Landlock domain that handles a filesystem right (the
	// tree scope's execute) refuses mount(2) itself.
	escaped(t, e.attack(t, e.config(keep("CAP_SYS_ADMIN"), noFSDomain, u), probeBin, "mount"), "capabilities (keepCapabilities CAP_SYS_ADMIN, no Landlock filesystem domain)")
}

// In the tree scope the child's Landlock domain handles a filesystem right
// (execute), and the kernel refuses mount(2) to such a domain whatever the
// capabilities: a kept CAP_SYS_ADMIN cannot remount what the policy hides.
// Against an unprivileged server: the same in the child's own user and
// mount namespaces, where its kept CAP_SYS_ADMIN counts.
func TestEscape_Mount_treeScopeDomain(t *testing.T) {
	u := unprivilegedAdds(t, namespaces("user", "mount"), "the kept CAP_SYS_ADMIN counts in the child's own user and mount namespaces")
	e := newEnv(t)
	r := e.attack(t, e.config(keep("CAP_SYS_ADMIN"), u), probeBin, "mount")
	stopped(t, r, "EPERM", "the tree scope's Landlock domain (CAP_SYS_ADMIN kept)")
	escaped(t, e.attack(t, e.config(keep("CAP_SYS_ADMIN"), noFSDomain, u), probeBin, "mount"), "the Landlock filesystem domain (executablePolicyScope launch, landlock false)")
}

func TestEscape_PtraceHostProcess_capabilities(t *testing.T) {
	rootServerOnly(t, "an unprivileged server's children hold no capability on the host: a root process is out of reach by uid, one of the server's uid by the Landlock domain (SiblingLaunch_landlockDomain, ServerFromChild_unprivilegedServer, PtraceHostProcess_seccomp)")
	e := newEnv(t)
	v := hostSleeper(t)
	r := e.attack(t, e.config(), probeBin, "ptrace", v.pidArg())
	stopped(t, r, "EPERM", "capabilities: the host process has capabilities the child lacks")
	// With CAP_SYS_PTRACE kept, the child's Landlock domain still refuses
	// (scope_test.go): the baseline is the probe run directly by root.
	escaped(t, direct(t, probe("ptrace", v.pidArg())), "capabilities (the probe run directly by root)")
	if !v.alive() {
		t.Fatal("the host process died of the baseline's attach/detach")
	}
}

func TestEscape_Bpf_capabilities(t *testing.T) {
	rootServerOnly(t, unprivBpf)
	e := newEnv(t)
	r := e.attack(t, e.config(), probeBin, "bpf")
	stopped(t, r, "EPERM", "capabilities: no CAP_BPF")
	escaped(t, e.attack(t, e.config(keep("CAP_BPF")), probeBin, "bpf"), "capabilities (keepCapabilities CAP_BPF)")
}

// The server's binary, root and descriptors are out of reach through
// /proc/PPID: the server has capabilities the child lacks, so the kernel's
// ptrace access check refuses. /proc/self/exe is the probe itself.
func TestEscape_ProcParentExeRootFds_capabilities(t *testing.T) {
	rootServerOnly(t, "the layer is the capabilities a root server has and its children lack; an unprivileged server and its children are the same uid, and ServerFromChild_unprivilegedServer attacks its descriptors, memory and environment with a same-uid baseline")
	e := newEnv(t)
	r := e.attack(t, e.config(), probeBin, "proc-self-exe")
	stopped(t, r, "EACCES", "capabilities: ptrace access check on /proc/PPID")
	if !strings.Contains(r.Detail, "/proc/self/exe -> "+probeBin) {
		t.Fatalf("/proc/self/exe should be the probe: %s", r)
	}
	escaped(t, direct(t, probe("proc-self-exe")), "capabilities (the probe run directly by root)")
}

// In a pid namespace the probe's parent is outside it: getppid() is 0 and
// there is no /proc/PPID to reach, whatever capabilities the child keeps.
//
// The baseline is the probe started by a shell of the server's user: its
// parent, of the same uid and dumpable, is reached through /proc/PPID.
func TestEscape_ProcParentExeRootFds_pidNamespace(t *testing.T) {
	u := unprivilegedAdds(t, userNS, nsNeedsUserNS+" (and keepCapabilities)")
	e := newEnv(t)
	r := e.attack(t, e.config(pidNS, keep("CAP_SYS_PTRACE"), u), probeBin, "proc-self-exe")
	stopped(t, r, "", "pid namespace: the parent is not visible")
	if !strings.Contains(r.Detail, "ppid 0") {
		t.Fatalf("want ppid 0 in a pid namespace: %s", r)
	}
	// "exit" after the probe keeps the shell from exec'ing it: the shell
	// stays its parent.
	sh := asServerUser(exec.Command("/bin/sh", "-c", `"$0" proc-self-exe; exit $?`, probeBin))
	escaped(t, direct(t, sh), "pid namespace (the probe run directly by the server's user, child of its shell)")
}

// --- no_new_privs (always) ---

// The probe keeps CAP_SETUID to become nobody, then runs a setuid-root copy
// of itself: without no_new_privs that copy runs with euid 0.
//
// An unprivileged server's child already is the server's uid (and may not
// keep capabilities): it runs the setuid-root copy straight away; the
// baseline is the server's user running it outside the sandbox.
func TestEscape_SetuidExec_noNewPrivs(t *testing.T) {
	setuid := keep("CAP_SETUID", "CAP_SETGID")
	if unprivileged() {
		setuid = layer{}
	}
	u := unprivilegedAdds(t, layer{}, "no keepCapabilities: the child already is the server's unprivileged uid")
	e := newEnv(t)
	suid := setuidCopy(t)
	// launchScope: the tree scope would refuse the copy's exec itself.
	r := e.attack(t, e.config(setuid, launchScope, u), probeBin, "setuid-exec", suid)
	stopped(t, r, "", "no_new_privs: setuid bits are inert")
	euid := fmt.Sprintf("euid=%d", childCred().Uid)
	if strings.Count(r.Detail, euid) != 2 || !strings.Contains(r.Detail, "NoNewPrivs=1") {
		t.Fatalf("want the probe as uid %d with NoNewPrivs=1, and the copy still %s: %s", childCred().Uid, euid, r)
	}
	if unprivileged() {
		escaped(t, direct(t, asServerUser(probe("setuid-exec", suid))), "no_new_privs (the probe run directly by the server's user)")
		return
	}
	escaped(t, direct(t, probe("setuid-exec", suid)), "no_new_privs (the probe run directly by root)")
}

// setuidCopy is a setuid-root copy of the probe in a directory nobody may
// enter, on a filesystem mounted without nosuid.
func setuidCopy(t *testing.T) string {
	t.Helper()
	dir := tempDir(t, "suid-")
	p := filepath.Join(dir, "probe-suid")
	copyFile(t, probeBin, p, 0o4755|os.ModeSetuid)
	if fi, err := os.Stat(p); err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("setuid copy not setuid: %v %v", fi.Mode(), err)
	}
	return p
}

// --- init stage: descriptors ---

func TestEscape_InheritedDescriptors_initStage(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	r := e.attack(t, e.config(), probeBin, "inherited-fds")
	stopped(t, r, "", "init stage: only 0, 1, 2 reach the target")
	// The baseline hands the probe a descriptor the way a careless
	// launcher leaks one.
	f, err := os.CreateTemp(e.dir, "leaked-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := probe("inherited-fds")
	cmd.ExtraFiles = []*os.File{f}
	escaped(t, direct(t, cmd), "the init stage's descriptor cleanup (an extra descriptor handed over)")
}

// --- filesystem ---

func TestEscape_WriteOutside_readOnlyFilesystem(t *testing.T) {
	u := unprivilegedAdds(t, userNS, roNeedsUserNS)
	e := newEnv(t)
	target := filepath.Join(e.dir, "outside")
	r := e.attack(t, e.config(readOnly, u), probeBin, "write-file", target)
	stopped(t, r, "EROFS", "read-only filesystem")
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("ESCAPE: %s was written (%v)", target, err)
	}
	escaped(t, e.attack(t, e.config(noLandlock), probeBin, "write-file", target), "read-only filesystem (and landlock false)")
	// writablePaths stay writable: a directory of its own, since the config
	// files lie in e.dir and a policy file where the children may write
	// refuses the start (SPEC 7.1a).
	w := filepath.Join(e.dir, "writable")
	if err := os.Mkdir(w, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(w, 0o777)
	target = filepath.Join(w, "outside")
	escaped(t, e.attack(t, e.config(readOnly, layer{"writablePaths": []string{w}}, u), probeBin, "write-file", target),
		"read-only filesystem for a writablePaths entry")
}

func TestEscape_FillTmp_tmpfsSize(t *testing.T) {
	u := unprivilegedAdds(t, userNS, roNeedsUserNS)
	e := newEnv(t)
	r := e.attack(t, e.config(readOnly, layer{"tmpfsSize": 4}, u), probeBin, "fill-tmp", "/tmp", "16")
	stopped(t, r, "ENOSPC", "tmpfsSize: a private 4 MiB /tmp")
	if n := bytesWritten(t, r); n > 4<<20 {
		t.Fatalf("wrote %d bytes into a 4 MiB /tmp", n)
	}
	// Without the layer the same 16 MiB fit (in the host's /tmp; the probe
	// removes its file).
	escaped(t, e.attack(t, e.config(), probeBin, "fill-tmp", "/tmp", "16"), "tmpfsSize")
}

func bytesWritten(t *testing.T, r result) int64 {
	t.Helper()
	f := strings.Fields(strings.TrimPrefix(r.Detail, "wrote "))
	if len(f) == 0 {
		t.Fatalf("no byte count: %s", r)
	}
	n, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		t.Fatalf("no byte count: %s", r)
	}
	return n
}

func TestEscape_WriteOutside_landlock(t *testing.T) {
	eitherServer(t)
	e := newEnv(t)
	target := filepath.Join(e.dir, "outside")
	r := e.attack(t, e.config(landlock), probeBin, "write-outside", target)
	stopped(t, r, "EACCES", "Landlock: writes only beneath the working directory, /tmp and writablePaths")
	if _, err := os.Stat(target); !os.IsNotExist(err) {
		t.Fatalf("ESCAPE: %s was written (%v)", target, err)
	}
	// The working directory stays writable under Landlock.
	escaped(t, e.attack(t, e.config(landlock), probeBin, "write-outside", filepath.Join(e.work, "inside")),
		"Landlock for the working directory")
	escaped(t, e.attack(t, e.config(noLandlock), probeBin, "write-outside", target), "Landlock (landlock false)")
}

// --- seccomp ---

// seccompCase is an attack that a seccomp profile refuses with EPERM. keep
// is the capability the attack needs otherwise, kept in both runs so that
// only the filter differs. Without the filter the attack works, except
// when baseFails: the calls that would change the running kernel get
// arguments the kernel rejects even for root, so without the filter they
// fail with an errno other than EPERM.
//
// Against an unprivileged server a case that keeps a capability either
// runs in the namespaces where that capability counts (unpriv, with why),
// or is skipped (rootOnly says why).
type seccompCase struct {
	profile   layer
	keep      []string
	args      []string
	baseFails bool
	unpriv    layer
	why       string
	rootOnly  string
	// direct: the baseline is the probe run directly as the children's uid, for
	// what the always-on seccomp baseline refuses too (io_uring).
	direct bool
}

func runSeccompCase(t *testing.T, c seccompCase) {
	t.Helper()
	u := layer{}
	switch {
	case c.rootOnly != "":
		rootServerOnly(t, c.rootOnly)
	case c.unpriv != nil:
		u = unprivilegedAdds(t, c.unpriv, c.why)
	default:
		eitherServer(t)
	}
	e := newEnv(t)
	withKeep := layer{}
	if len(c.keep) > 0 {
		withKeep = keep(c.keep...)
	}
	// launchScope in both runs: the tree scope's Landlock domain refuses
	// mount(2) by itself, and only the filter may differ.
	r := e.attack(t, e.config(c.profile, withKeep, noFSDomain, u), probeBin, c.args...)
	stopped(t, r, "EPERM", "seccomp ("+c.profile["seccompProfile"].(string)+")")
	var b result
	if c.direct {
		b = direct(t, asChildUser(probe(c.args...)))
	} else {
		b = e.attack(t, e.config(withKeep, noFSDomain, u), probeBin, c.args...)
	}
	if c.baseFails {
		otherErrno(t, b, "EPERM", "seccomp")
	} else {
		escaped(t, b, "seccomp")
	}
}

func TestEscape_Mount_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, keep: []string{"CAP_SYS_ADMIN"}, args: []string{"mount"},
		unpriv: namespaces("user", "mount"), why: "the kept CAP_SYS_ADMIN counts in the child's own user and mount namespaces"})
}

// The child's Landlock domain refuses ptrace of a host process too
// (scope_test.go), so the baseline is the probe run directly by the
// server's user. Against an unprivileged server the victim is a process of
// the server's uid (which needs no CAP_SYS_PTRACE, and may keep none).
func TestEscape_PtraceHostProcess_seccomp(t *testing.T) {
	ptrace := keep("CAP_SYS_PTRACE")
	if unprivileged() {
		ptrace = layer{}
	}
	u := unprivilegedAdds(t, layer{}, "no keepCapabilities: the victim is a process of the server's own uid")
	v := serverUserSleeper(t)
	e := newEnv(t)
	r := e.attack(t, e.config(permissve, ptrace, u), probeBin, "ptrace", v.pidArg())
	stopped(t, r, "EPERM", "seccomp (permissive)")
	escaped(t, direct(t, asServerUser(probe("ptrace", v.pidArg()))), "seccomp (the probe run directly by the server's user)")
}

func TestEscape_PtraceTraceme_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, args: []string{"ptrace-traceme"}})
}

func TestEscape_InitModule_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, keep: []string{"CAP_SYS_MODULE"}, args: []string{"init-module"}, baseFails: true,
		rootOnly: "without CAP_SYS_MODULE in the host's user namespace, which an unprivileged server's child never has, the kernel answers EPERM too (where it has modules): the baseline could not tell the filter did it"})
}

func TestEscape_Kexec_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, keep: []string{"CAP_SYS_BOOT"}, args: []string{"kexec"}, baseFails: true,
		rootOnly: "without CAP_SYS_BOOT in the host's user namespace, which an unprivileged server's child never has, the kernel answers EPERM too (where it has kexec): the baseline could not tell the filter did it"})
}

func TestEscape_Bpf_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, keep: []string{"CAP_BPF"}, args: []string{"bpf"}, rootOnly: unprivBpf})
}

func TestEscape_Keyctl_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: permissve, args: []string{"keyctl"}})
}

func TestEscape_UnshareUser_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: moderate, args: []string{"unshare-user"}})
}

func TestEscape_IoUring_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: moderate, args: []string{"io-uring"}, direct: true})
}

func TestEscape_Personality_seccomp(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: moderate, args: []string{"personality"}})
}

// strict is an allowlist: what it does not name (here the namespace
// clone, and io_uring) is refused like in moderate.
func TestEscape_UnshareUser_seccompStrict(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: strict, args: []string{"unshare-user"}})
}

func TestEscape_IoUring_seccompStrict(t *testing.T) {
	runSeccompCase(t, seccompCase{profile: strict, args: []string{"io-uring"}, direct: true})
}
