//go:build linux

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The attacks on the server, on other launches and on the host's kernel
// settings that a child's identity and its Landlock domain stop (SPEC 7.1).
// A PID argument "ppid" means the probe's parent: the server that launched
// it.
func init() {
	attacks["pidfd-getfd"] = pidfdGetfd
	attacks["signal"] = signalPid
	attacks["ptrace-pid"] = ptracePid
	attacks["read-environ"] = readEnviron
	attacks["open-write"] = openWrite
	attacks["cgroup-join"] = cgroupJoin
	attacks["abstract-connect"] = abstractConnect
	attacks["abstract-listen"] = abstractListen
	attacks["pid-sleep"] = pidSleep
	attacks["unix-connect"] = unixConnect
}

func pidArg(args []string, i int) int {
	switch need(args, i, "PID") {
	case "ppid":
		return os.Getppid()
	case "zygote":
		return zygotePid()
	}
	return needInt(args, i, "PID")
}

// zygotePid finds the server's zygote (the fork server that forked this
// probe: a sibling, since its children are the server's), by its hidden
// argument in /proc/PID/cmdline; it exits with a failure when there is none.
func zygotePid() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), "\x00__mcp_process_init_zygote\x00") && parentOf(pid) == os.Getppid() {
			return pid
		}
	}
	b, _ := json.Marshal(result{Attack: os.Args[1], Detail: "no zygote among the server's children (the launch was not forked by one)"})
	os.Stdout.Write(append(b, '\n'))
	os.Exit(0)
	return 0
}

// parentOf is pid's parent, from /proc/PID/stat (0 when unknown).
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// pidfd-getfd PID FD: take a copy of descriptor FD of process PID
// (pidfd_open + pidfd_getfd, a ptrace-mode access check).
func pidfdGetfd(args []string) result {
	pid, fd := pidArg(args, 0), needInt(args, 1, "FD")
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fail(err, fmt.Sprintf("pidfd_open %d", pid))
	}
	defer unix.Close(pfd)
	got, err := unix.PidfdGetfd(pfd, fd, 0)
	if err != nil {
		return fail(err, fmt.Sprintf("pidfd_getfd %d of %d", fd, pid))
	}
	defer unix.Close(got)
	target, _ := os.Readlink("/proc/self/fd/" + strconv.Itoa(got))
	return success(fmt.Sprintf("took descriptor %d of %d: %s", fd, pid, target))
}

// signal PID: send SIGCONT (harmless to a running process; the permission
// check is that of any signal).
func signalPid(args []string) result {
	pid := pidArg(args, 0)
	if err := unix.Kill(pid, unix.SIGCONT); err != nil {
		return fail(err, fmt.Sprintf("kill(%d, SIGCONT)", pid))
	}
	return success(fmt.Sprintf("sent SIGCONT to %d", pid))
}

// ptrace-pid PID: PTRACE_ATTACH then detach.
func ptracePid(args []string) result {
	pid := pidArg(args, 0)
	runtime.LockOSThread()
	return ptraceAttach([]string{strconv.Itoa(pid)})
}

// read-environ PID: read /proc/PID/environ (a ptrace-mode read check).
func readEnviron(args []string) result {
	pid := pidArg(args, 0)
	p := fmt.Sprintf("/proc/%d/environ", pid)
	b, err := os.ReadFile(p)
	if err != nil {
		return fail(err, "read "+p)
	}
	if len(b) == 0 {
		return fail(unix.EACCES, "read "+p+": empty")
	}
	return success(fmt.Sprintf("read %d bytes of %s", len(b), p))
}

// open-write PATH: open PATH for writing, write nothing, close it (for
// files whose every write would change the host, such as core_pattern).
func openWrite(args []string) result {
	p := need(args, 0, "PATH")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fail(err, "open "+p+" for writing")
	}
	f.Close()
	return success("opened " + p + " for writing (nothing written)")
}

// cgroup-join DIR: move the probe into the cgroup DIR (e.g. a hierarchy's
// root, out of the launch's limits), by writing its pid to cgroup.procs.
func cgroupJoin(args []string) result {
	dir := need(args, 0, "DIR")
	p := dir + "/cgroup.procs"
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		return fail(err, "open "+p)
	}
	defer f.Close()
	if _, err := f.WriteString(strconv.Itoa(os.Getpid())); err != nil {
		return fail(err, "write "+p)
	}
	return success("moved into " + dir)
}

// abstract-connect NAME: connect to the abstract unix socket @NAME.
func abstractConnect(args []string) result {
	name := need(args, 0, "NAME")
	c, err := net.DialTimeout("unix", "@"+name, 5*time.Second)
	if err != nil {
		return fail(err, "connect @"+name)
	}
	c.Close()
	return success("connected to @" + name)
}

// abstract-listen NAME SECONDS: listen on @NAME for a while (the victim of
// abstract-connect in a sibling launch); ok when something connected.
func abstractListen(args []string) result {
	name := need(args, 0, "NAME")
	secs := needInt(args, 1, "SECONDS")
	ln, err := net.Listen("unix", "@"+name)
	if err != nil {
		return fail(err, "listen @"+name)
	}
	defer ln.Close()
	ln.(*net.UnixListener).SetDeadline(time.Now().Add(time.Duration(secs) * time.Second))
	c, err := ln.Accept()
	if err != nil {
		return fail(err, "accept on @"+name)
	}
	c.Close()
	return success("accepted on @" + name)
}

// pid-sleep FILE SECONDS: write the probe's pid to FILE, then sleep (the
// victim launch of the sibling attacks).
func pidSleep(args []string) result {
	file := need(args, 0, "FILE")
	secs := needInt(args, 1, "SECONDS")
	if err := os.WriteFile(file, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail(err, "write "+file)
	}
	time.Sleep(time.Duration(secs) * time.Second)
	return success("slept")
}

// unix-connect PATH: connect to the pathname unix socket PATH.
func unixConnect(args []string) result {
	p := need(args, 0, "PATH")
	c, err := net.DialTimeout("unix", p, 5*time.Second)
	if err != nil {
		return fail(err, "connect "+p)
	}
	c.Close()
	return success("connected to " + p)
}
