//go:build linux

// The runtime must not hold descriptors of its own (Go reads the cgroup CPU
// limit at start and keeps those files open to re-read them): the
// inherited-fds attack counts every descriptor beyond 0, 1, 2.

//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0

// Command probe tries one sandbox escape and reports whether it worked.
//
// Usage: probe ATTACK [ARGS...]. It prints exactly one JSON line
//
//	{"attack":"read-file","ok":false,"errno":"ENOENT","detail":"..."}
//
// (read-file-when prints one for each file it reads before that one).
// and exits 0 whether the attack worked or not: "ok":true means the ESCAPE
// SUCCEEDED. errno is the name of the error that stopped the attack ("" when
// none). The escape tests (test/escape) run it under mcp-process with one
// isolation layer at a time, and directly on the host as the baseline that
// shows each attack works where nothing stops it.
//
// Every attack is harmless when it succeeds: what it changes is undone at
// once (a mount is unmounted, a ptrace attachment detached, the hostname
// set to a name the test chose and restores), and the calls that would
// change the running kernel (finit_module, kexec_load) are made with
// arguments the kernel rejects even for root.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// result is the one line the probe prints.
type result struct {
	Attack string `json:"attack"`
	OK     bool   `json:"ok"`
	Errno  string `json:"errno"`
	Detail string `json:"detail"`
}

type attack func(args []string) result

var attacks = map[string]attack{
	"read-file":      readFile,
	"write-file":     writeFile,
	"write-outside":  writeFile,
	"fill-tmp":       fillTmp,
	"kill":           killPid,
	"see-pid":        seePid,
	"sethostname":    setHostname,
	"mount":          mountTmpfs,
	"unshare-user":   unshareUser,
	"ptrace":         ptraceAttach,
	"ptrace-traceme": ptraceTraceme,
	"init-module":    initModule,
	"kexec":          kexecLoad,
	"bpf":            bpfMapCreate,
	"keyctl":         keyctl,
	"io-uring":       ioUringSetup,
	"personality":    setPersonality,
	"socket-connect": socketConnect,
	"socket-inet":    socketInet,
	"socket-vsock":   socketVsock,
	"sys-class-net":  sysClassNet,
	"setuid-exec":    setuidExec,
	"caps":           caps,
	"proc-self-exe":  procSelfExe,
	"inherited-fds":  inheritedFDs,
	"chroot-escape":  chrootEscape,
	"sysv-shm":       sysvShm,
	"whoami":         whoami,       // helper of setuid-exec
	"userns-inner":   usernsInner,  // helper of unshare-user
	"traceme-inner":  tracemeInner, // helper of ptrace-traceme
	"daemonize":      daemonize,
	"daemon-mid":     daemonMid,   // helper of daemonize
	"daemon-sleep":   daemonSleep, // helper of daemonize
}

// startFDs is the descriptor table as the probe found it, read before the
// Go runtime or this program opened anything of its own.
var startFDs = readFDTable()

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe ATTACK [ARGS...]")
		os.Exit(2)
	}
	name := os.Args[1]
	a, ok := attacks[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "probe: unknown attack %q\n", name)
		os.Exit(2)
	}
	r := a(os.Args[2:])
	r.Attack = name
	b, _ := json.Marshal(r)
	os.Stdout.Write(append(b, '\n'))
}

// need returns args[i] or ends the probe with a usage error.
func need(args []string, i int, what string) string {
	if i >= len(args) {
		fmt.Fprintf(os.Stderr, "probe %s: missing %s\n", os.Args[1], what)
		os.Exit(2)
	}
	return args[i]
}

func needInt(args []string, i int, what string) int {
	n, err := strconv.Atoi(need(args, i, what))
	if err != nil {
		fmt.Fprintf(os.Stderr, "probe %s: %s: %v\n", os.Args[1], what, err)
		os.Exit(2)
	}
	return n
}

// errnoOf names the errno inside err ("" for nil, "?" for a non-errno).
func errnoOf(err error) string {
	if err == nil {
		return ""
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		if n := unix.ErrnoName(e); n != "" {
			return n
		}
		return "errno" + strconv.Itoa(int(e))
	}
	return "?"
}

// fail is the result of an attack stopped by err.
func fail(err error, detail string) result {
	if detail == "" && err != nil {
		detail = err.Error()
	} else if err != nil {
		detail += ": " + err.Error()
	}
	return result{Errno: errnoOf(err), Detail: detail}
}

func success(detail string) result { return result{OK: true, Detail: detail} }

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// read-file PATH: read a file the sandbox should hide.
func readFile(args []string) result {
	p := need(args, 0, "PATH")
	b, err := os.ReadFile(p)
	if err != nil {
		return fail(err, "read "+p)
	}
	return success(fmt.Sprintf("read %d bytes of %s: %q", len(b), p, short(b)))
}

// write-file PATH (alias write-outside): create PATH and write to it.
func writeFile(args []string) result {
	p := need(args, 0, "PATH")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fail(err, "open "+p+" for writing")
	}
	_, err = f.WriteString("escaped\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err, "write "+p)
	}
	return success("wrote " + p)
}

// fill-tmp [DIR [MAXMB]]: write to DIR (default /tmp) until an error or
// MAXMB MiB (default 64). ok=true means MAXMB were written without error:
// nothing bounded the space. The file is removed before the probe exits.
func fillTmp(args []string) result {
	dir := "/tmp"
	if len(args) > 0 {
		dir = args[0]
	}
	maxMB := 64
	if len(args) > 1 {
		maxMB = needInt(args, 1, "MAXMB")
	}
	f, err := os.CreateTemp(dir, "probe-fill-")
	if err != nil {
		return fail(err, "create a file in "+dir)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i) | 1 // not all zeros: no filesystem may elide it
	}
	var total int64
	for total < int64(maxMB)<<20 {
		n, err := f.Write(chunk)
		total += int64(n)
		if err != nil {
			return fail(err, fmt.Sprintf("wrote %d bytes to %s", total, dir))
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err, fmt.Sprintf("wrote %d bytes to %s, sync", total, dir))
	}
	return success(fmt.Sprintf("wrote %d bytes to %s", total, dir))
}

// kill PID: SIGKILL a process outside the sandbox.
func killPid(args []string) result {
	pid := needInt(args, 0, "PID")
	if err := unix.Kill(pid, unix.SIGKILL); err != nil {
		return fail(err, fmt.Sprintf("kill %d", pid))
	}
	return success(fmt.Sprintf("sent SIGKILL to %d", pid))
}

// see-pid PID: does the host's process PID show in /proc?
func seePid(args []string) result {
	pid := needInt(args, 0, "PID")
	p := fmt.Sprintf("/proc/%d", pid)
	if _, err := os.Stat(p); err != nil {
		return fail(err, "stat "+p)
	}
	cmd, _ := os.ReadFile(p + "/cmdline")
	return success(fmt.Sprintf("%s exists: %q", p, short(cmd)))
}

// sethostname NAME: set the hostname ("-" = set it to its current value,
// which is harmless on the host and still needs the privilege).
func setHostname(args []string) result {
	name := need(args, 0, "NAME")
	if name == "-" {
		h, err := os.Hostname()
		if err != nil {
			return fail(err, "read the hostname")
		}
		name = h
	}
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fail(err, "sethostname "+name)
	}
	h, _ := os.Hostname()
	return success("hostname is now " + h)
}

// mount [TARGET [keep]]: mount a tmpfs on TARGET (default: a new
// directory in the working directory), then unmount it at once, unless
// "keep" is given (the test then looks for it on the host and unmounts it).
func mountTmpfs(args []string) result {
	target := ""
	if len(args) > 0 {
		target = args[0]
	} else {
		d, err := os.MkdirTemp(".", "probe-mnt-")
		if err != nil {
			return fail(err, "make a mount point")
		}
		defer os.Remove(d)
		target = d
	}
	if err := unix.Mount("probe", target, "tmpfs", 0, "size=1m"); err != nil {
		return fail(err, "mount tmpfs on "+target)
	}
	if len(args) > 1 && args[1] == "keep" {
		return success("mounted a tmpfs on " + target + " and left it there")
	}
	uerr := unix.Unmount(target, unix.MNT_DETACH)
	return success(fmt.Sprintf("mounted a tmpfs on %s (unmount: %v)", target, uerr))
}

// unshare-user: clone a child into a new user and mount namespace (a
// multithreaded program cannot unshare(CLONE_NEWUSER) itself) and report
// what it holds there: root in a user namespace has every capability in it.
// The child is mapped to root inside when the kernel lets the probe write
// that map (mapping uid 0 needs CAP_SETFCAP), else left unmapped.
func unshareUser([]string) result {
	run := func(mapped bool) ([]byte, error) {
		cmd := exec.Command("/proc/self/exe", "userns-inner")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS}
		if mapped {
			cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}}
			cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}}
		}
		cmd.Stderr = os.Stderr
		return cmd.Output()
	}
	how := "mapped to root"
	out, err := run(true)
	if err != nil {
		how = "unmapped (" + err.Error() + " when mapped)"
		out, err = run(false)
	}
	if err != nil {
		return fail(err, "clone(CLONE_NEWUSER|CLONE_NEWNS)")
	}
	var inner result
	if json.Unmarshal(out, &inner) != nil {
		inner.Detail = short(out)
	}
	return success("in a new user namespace, " + how + ": " + inner.Detail)
}

// userns-inner runs inside the namespaces unshare-user made.
func usernsInner([]string) result {
	wd, _ := os.Getwd()
	merr := unix.Mount("probe", wd, "tmpfs", 0, "size=1m")
	if merr == nil {
		unix.Unmount(wd, unix.MNT_DETACH)
	}
	return result{OK: true, Detail: fmt.Sprintf("CapEff=%s mount=%s", statusField("CapEff"), orOK(errnoOf(merr)))}
}

func orOK(s string) string {
	if s == "" {
		return "ok"
	}
	return s
}

// ptrace PID: PTRACE_ATTACH to a host process, then detach.
func ptraceAttach(args []string) result {
	pid := needInt(args, 0, "PID")
	runtime.LockOSThread() // ptrace requests come from the attaching thread
	if err := unix.PtraceAttach(pid); err != nil {
		return fail(err, fmt.Sprintf("PTRACE_ATTACH %d", pid))
	}
	var ws unix.WaitStatus
	_, werr := unix.Wait4(pid, &ws, unix.WALL, nil)
	derr := unix.PtraceDetach(pid)
	return success(fmt.Sprintf("attached to %d (wait: %v, detach: %v)", pid, werr, derr))
}

// ptrace-traceme: a child asks to be traced by the probe (PTRACE_TRACEME);
// the probe lets it run to its end. The child's exit code is its errno.
func ptraceTraceme([]string) result {
	runtime.LockOSThread() // the tracer is the thread that forked the child
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"probe", "traceme-inner"},
		&syscall.ProcAttr{Files: []uintptr{0, 2, 2}})
	if err != nil {
		return fail(err, "start the tracee")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, unix.WALL, nil); err != nil {
			return fail(err, "wait for the tracee")
		}
		switch {
		case ws.Exited():
			if c := ws.ExitStatus(); c != 0 {
				return fail(syscall.Errno(c), "PTRACE_TRACEME")
			}
			return success("PTRACE_TRACEME succeeded: the probe traced its child")
		case ws.Signaled():
			return fail(nil, "tracee killed by "+ws.Signal().String())
		case ws.Stopped():
			sig := ws.StopSignal()
			if sig == unix.SIGTRAP || sig == unix.SIGSTOP {
				sig = 0
			}
			if time.Now().After(deadline) {
				unix.Kill(pid, unix.SIGKILL)
			}
			unix.PtraceCont(pid, int(sig))
		}
	}
}

// traceme-inner: PTRACE_TRACEME, exit with the errno (0 = it worked).
func tracemeInner([]string) result {
	_, _, e := unix.RawSyscall(unix.SYS_PTRACE, unix.PTRACE_TRACEME, 0, 0)
	os.Exit(int(e))
	return result{}
}

// init-module: finit_module on /dev/null. With CAP_SYS_MODULE the kernel
// rejects the empty "module" (ENOEXEC/EINVAL; ENOSYS without module
// support); without it, EPERM. Nothing is ever loaded.
func initModule([]string) result {
	fd, err := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		fd = -1 // the permission check comes first: EPERM or EBADF
	}
	err = unix.FinitModule(fd, "", 0)
	if fd >= 0 {
		unix.Close(fd)
	}
	if err != nil {
		return fail(err, fmt.Sprintf("finit_module(fd %d)", fd))
	}
	return success("finit_module accepted /dev/null")
}

// kexec: kexec_load with more segments than the kernel accepts. With
// CAP_SYS_BOOT that is EINVAL (ENOSYS without kexec support); without it
// EPERM. Nothing is ever loaded.
func kexecLoad([]string) result {
	_, _, e := unix.Syscall6(unix.SYS_KEXEC_LOAD, 0, 1000, 0, 0, 0, 0)
	if e != 0 {
		return fail(e, "kexec_load(nr_segments=1000)")
	}
	return success("kexec_load accepted 1000 segments")
}

// bpf: create a one-entry array map.
func bpfMapCreate([]string) result {
	var attr [128]byte
	*(*[4]uint32)(unsafe.Pointer(&attr[0])) = [4]uint32{unix.BPF_MAP_TYPE_ARRAY, 4, 4, 1}
	fd, _, e := unix.Syscall(unix.SYS_BPF, unix.BPF_MAP_CREATE, uintptr(unsafe.Pointer(&attr[0])), unsafe.Sizeof(attr))
	if e != 0 {
		return fail(e, "bpf(BPF_MAP_CREATE)")
	}
	unix.Close(int(fd))
	return success("created a BPF map")
}

// keyctl: read the id of the session keyring.
func keyctl([]string) result {
	id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
	if err != nil {
		return fail(err, "keyctl(KEYCTL_GET_KEYRING_ID)")
	}
	return success(fmt.Sprintf("session keyring %d", id))
}

// io-uring: io_uring_setup(1).
func ioUringSetup([]string) result {
	var params [120]byte
	fd, _, e := unix.Syscall(unix.SYS_IO_URING_SETUP, 1, uintptr(unsafe.Pointer(&params[0])), 0)
	if e != 0 {
		return fail(e, "io_uring_setup")
	}
	unix.Close(int(fd))
	return success("io_uring instance created")
}

// personality: turn address-space randomisation off for this process.
func setPersonality([]string) result {
	old, _, _ := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	_, _, e := unix.Syscall(unix.SYS_PERSONALITY, addrNoRandomize, 0, 0)
	if e != 0 {
		return fail(e, "personality(ADDR_NO_RANDOMIZE)")
	}
	unix.Syscall(unix.SYS_PERSONALITY, old, 0, 0)
	return success("personality set to ADDR_NO_RANDOMIZE")
}

// socket-connect ADDR: TCP connect (Go's dialer) to ADDR.
func socketConnect(args []string) result {
	addr := need(args, 0, "ADDR")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fail(err, "connect "+addr)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 64)
	n, _ := c.Read(b)
	return success(fmt.Sprintf("connected to %s, read %q", addr, b[:n]))
}

// socket-inet PORT: socket(AF_INET) then connect to 127.0.0.1:PORT, with
// raw system calls so each step's errno shows.
func socketInet(args []string) result {
	port := needInt(args, 0, "PORT")
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err, "socket(AF_INET)")
	}
	defer unix.Close(fd)
	tv := unix.Timeval{Sec: 5}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_SNDTIMEO, &tv)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return fail(err, fmt.Sprintf("connect 127.0.0.1:%d", port))
	}
	return success(fmt.Sprintf("connected to 127.0.0.1:%d", port))
}

// socket-vsock: socket(AF_VSOCK), the channel to the hypervisor and other
// VMs that no network namespace covers. Holding the socket is the escape;
// the probe connects nowhere (on a VM that would reach the host's services).
func socketVsock(args []string) result {
	fd, err := unix.Socket(unix.AF_VSOCK, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fail(err, "socket(AF_VSOCK)")
	}
	unix.Close(fd)
	return success("socket(AF_VSOCK) gave a descriptor")
}

// sys-class-net: list /sys/class/net. The escape is seeing an interface of
// the host (anything besides lo) from inside a network namespace; the
// detail lists what was seen.
func sysClassNet(args []string) result {
	ents, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return fail(err, "read /sys/class/net")
	}
	var names []string
	host := false
	for _, e := range ents {
		names = append(names, e.Name())
		if e.Name() != "lo" {
			host = true
		}
	}
	return result{OK: host, Detail: "/sys/class/net: " + strings.Join(names, ",")}
}

// identity is what whoami reports.
type identity struct {
	Euid   int    `json:"euid"`
	CapEff string `json:"capEff"`
	NNP    string `json:"noNewPrivs"`
}

func me() identity {
	return identity{Euid: os.Geteuid(), CapEff: statusField("CapEff"), NNP: statusField("NoNewPrivs")}
}

// whoami prints the caller's identity (the setuid copy runs this).
func whoami([]string) result {
	b, _ := json.Marshal(me())
	return result{OK: true, Detail: string(b)}
}

// setuid-exec PATH: PATH is a setuid-root copy of the probe. When running
// as root the probe first becomes nobody (65534) if it can; then it runs
// PATH whoami. The escape worked when that gained anything: euid 0 from a
// non-zero euid, or capabilities the probe did not have.
func setuidExec(args []string) result {
	p := need(args, 0, "PATH")
	if os.Geteuid() == 0 {
		// Best effort: without CAP_SETUID the probe stays root with the
		// capabilities it has, and the gain is measured in capabilities.
		if syscall.Setresgid(65534, 65534, 65534) == nil {
			syscall.Setresuid(65534, 65534, 65534)
		}
	}
	before := me()
	out, err := exec.Command(p, "whoami").Output()
	if err != nil {
		return fail(err, "exec "+p)
	}
	var r result
	var after identity
	if json.Unmarshal(out, &r) != nil || json.Unmarshal([]byte(r.Detail), &after) != nil {
		return fail(nil, "unreadable whoami output: "+short(out))
	}
	detail := fmt.Sprintf("before exec: euid=%d CapEff=%s NoNewPrivs=%s; %s: euid=%d CapEff=%s",
		before.Euid, before.CapEff, before.NNP, p, after.Euid, after.CapEff)
	bc, _ := strconv.ParseUint(before.CapEff, 16, 64)
	ac, _ := strconv.ParseUint(after.CapEff, 16, 64)
	if (before.Euid != 0 && after.Euid == 0) || ac&^bc != 0 {
		return success(detail)
	}
	return result{Detail: detail}
}

// caps: the capability sets. ok=true when any set is not empty.
func caps([]string) result {
	var parts []string
	any := false
	for _, f := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		v := statusField(f)
		parts = append(parts, f+"="+v)
		if n, err := strconv.ParseUint(v, 16, 64); err != nil || n != 0 {
			any = true
		}
	}
	parts = append(parts, "NoNewPrivs="+statusField("NoNewPrivs"), "Seccomp="+statusField("Seccomp"))
	return result{OK: any, Detail: strings.Join(parts, " ")}
}

// statusField reads one field of /proc/self/status ("?" when unreadable).
func statusField(name string) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// proc-self-exe: from the probe, reach the process that started it (the
// server) through /proc: its binary, its root directory, its descriptors.
// /proc/self/exe itself must be the probe (after execve nothing of the
// server's binary is left in the probe). ok=true when anything of the
// parent was reached, or the probe holds descriptors beyond 0, 1, 2.
func procSelfExe([]string) result {
	var reached, notes []string
	if fds := extraFDs(); len(fds) > 0 {
		reached = append(reached, "inherited descriptors "+strings.Join(fds, ", "))
	}
	if l, err := os.Readlink("/proc/self/exe"); err == nil {
		notes = append(notes, "/proc/self/exe -> "+l)
	} else {
		notes = append(notes, "/proc/self/exe: "+errnoOf(err))
	}
	ppid := os.Getppid()
	notes = append(notes, fmt.Sprintf("ppid %d", ppid))
	var firstErr error
	note := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	if ppid > 0 {
		base := fmt.Sprintf("/proc/%d", ppid)
		if f, err := os.Open(base + "/exe"); err == nil {
			b := make([]byte, 4)
			n, _ := f.Read(b)
			f.Close()
			l, _ := os.Readlink(base + "/exe")
			reached = append(reached, fmt.Sprintf("opened %s/exe (%s, %q)", base, l, b[:n]))
		} else {
			note(err)
			notes = append(notes, base+"/exe: "+errnoOf(err))
		}
		if ents, err := os.ReadDir(base + "/root/"); err == nil {
			reached = append(reached, fmt.Sprintf("listed %s/root (%d entries)", base, len(ents)))
		} else {
			note(err)
			notes = append(notes, base+"/root: "+errnoOf(err))
		}
		if ents, err := os.ReadDir(base + "/fd"); err == nil {
			var opened []string
			for _, e := range ents {
				if f, err := os.Open(base + "/fd/" + e.Name()); err == nil {
					l, _ := os.Readlink(base + "/fd/" + e.Name())
					opened = append(opened, e.Name()+"->"+l)
					f.Close()
				} else {
					note(err)
				}
			}
			if len(opened) > 0 {
				reached = append(reached, "opened the parent's descriptors "+strings.Join(opened, ", "))
			}
		} else {
			note(err)
			notes = append(notes, base+"/fd: "+errnoOf(err))
		}
	}
	detail := strings.Join(append(reached, notes...), "; ")
	if len(reached) > 0 {
		return success(detail)
	}
	return result{Errno: errnoOf(firstErr), Detail: detail}
}

// inherited-fds: descriptors beyond 0, 1, 2 at start. ok=true if any.
func inheritedFDs([]string) result {
	fds := extraFDs()
	if len(fds) > 0 {
		return success("inherited " + strings.Join(fds, ", "))
	}
	return result{Detail: "only " + strings.Join(startFDs, ", ")}
}

// readFDTable lists the open descriptors as "N->target", without the one
// used to list them.
func readFDTable() []string {
	fd, err := unix.Open("/proc/self/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return []string{"unreadable: " + errnoOf(err)}
	}
	defer unix.Close(fd)
	buf := make([]byte, 8192)
	var out []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil || n <= 0 {
			break
		}
		var names []string
		_, _, names = unix.ParseDirent(buf[:n], -1, names)
		for _, name := range names {
			if name == strconv.Itoa(fd) {
				continue
			}
			l, _ := os.Readlink("/proc/self/fd/" + name)
			out = append(out, name+"->"+l)
		}
	}
	return out
}

// extraFDs is startFDs without 0, 1, 2.
func extraFDs() []string {
	var extra []string
	for _, e := range startFDs {
		n, _, _ := strings.Cut(e, "->")
		if n != "0" && n != "1" && n != "2" {
			extra = append(extra, e)
		}
	}
	return extra
}

// chroot-escape HOSTFILE: the classic: chroot into a subdirectory while
// keeping the working directory outside it, climb with "..", chroot there,
// then read HOSTFILE (a path on the host, outside the jail).
func chrootEscape(args []string) result {
	hostFile := need(args, 0, "HOSTFILE")
	dir, err := os.MkdirTemp(".", "probe-jail-")
	if err != nil {
		if dir, err = os.MkdirTemp("/tmp", "probe-jail-"); err != nil {
			return fail(err, "make a directory to chroot into")
		}
	}
	abs, _ := filepath.Abs(dir)
	if err := unix.Chroot(dir); err != nil {
		os.Remove(dir)
		return fail(err, "chroot "+dir)
	}
	for range 64 {
		unix.Chdir("..")
	}
	if err := unix.Chroot("."); err != nil {
		return fail(err, "chroot . after climbing")
	}
	os.Remove(abs) // best effort: the directory name as seen from the old root
	b, err := os.ReadFile(hostFile)
	if err != nil {
		return fail(err, "read "+hostFile+" after the escape")
	}
	return success(fmt.Sprintf("escaped: read %s: %q", hostFile, short(b)))
}

// addrNoRandomize is ADDR_NO_RANDOMIZE of <linux/personality.h>.
const addrNoRandomize = 0x0040000

// sysv-shm ID: read the state of a host's System V shared memory segment.
func sysvShm(args []string) result {
	id := needInt(args, 0, "ID")
	var d unix.SysvShmDesc
	if _, err := unix.SysvShmCtl(id, unix.IPC_STAT, &d); err != nil {
		return fail(err, fmt.Sprintf("shmctl(%d, IPC_STAT)", id))
	}
	return success(fmt.Sprintf("segment %d: %d bytes, creator pid %d", id, d.Segsz, d.Cpid))
}

// daemonize PIDFILE: leaves the launch's process tree the way a daemon
// does — a child in a new session starts a grandchild in yet another
// session and exits (double fork + setsid), so the grandchild has neither
// the probe as parent nor its process group or session — and reports the
// grandchild once it has written PIDFILE (its pid as it sees it). The
// probe itself then stays (its result printed first): the launch goes on,
// and its server can be killed under it. "ok" means the grandchild runs
// outside the probe's session.
func daemonize(args []string) result {
	pidfile := need(args, 0, "PIDFILE")
	c := exec.Command("/proc/self/exe", "daemon-mid", pidfile)
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	r := result{}
	if err := c.Run(); err != nil {
		r.Errno, r.Detail = errnoOf(err), err.Error()
		return r
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(pidfile)
		if err == nil && len(b) > 0 {
			r.OK, r.Detail = true, "grandchild pid "+strings.TrimSpace(string(b))+" in its own session"
			break
		}
		if time.Now().After(deadline) {
			r.Detail = "no pid file after 10 s"
			return r
		}
		time.Sleep(5 * time.Millisecond)
	}
	b, _ := json.Marshal(result{Attack: "daemonize", OK: r.OK, Detail: r.Detail})
	os.Stdout.Write(append(b, '\n'))
	for {
		time.Sleep(time.Hour)
	}
}

func daemonMid(args []string) result {
	c := exec.Command("/proc/self/exe", "daemon-sleep", need(args, 0, "PIDFILE"))
	c.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := c.Start(); err != nil {
		os.Exit(1)
	}
	os.Exit(0) // the grandchild is orphaned
	return result{}
}

func daemonSleep(args []string) result {
	pidfile := need(args, 0, "PIDFILE")
	tmp := pidfile + ".tmp"
	if os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644) != nil || os.Rename(tmp, pidfile) != nil {
		os.Exit(1)
	}
	for {
		time.Sleep(time.Hour)
	}
}
