// Command rlhelper misbehaves on purpose, one way per mode, so the e2e tests
// can check that the kernel-enforced resource limits stop it:
//
//	rlhelper mem                      allocate and touch 1 MiB chunks (up to 512 MiB), printing progress
//	rlhelper fork MARKER              start /bin/sleep 60 children (argv[0] MARKER) until fork fails, keep trying, never exit
//	rlhelper spin [MARKER]            burn CPU forever
//	rlhelper spintree N MARKER        start N-1 "spin MARKER" copies of itself, then spin
//	rlhelper fds                      open /dev/null until it fails; print "opened N: ERROR"; exit 0
//	rlhelper daemon stay|exit PIDFILE MARKER
//	                                  double fork a grandchild that calls setsid and writes its pid to
//	                                  PIDFILE; print "grandchild PID"; then stay (sleep) or exit 0
//	rlhelper nocgroup PROGRAM [ARGS...]
//	                                  unmount /sys/fs/cgroup (call it in a private mount namespace)
//	                                  and exec PROGRAM: a host without usable cgroups
//
// Every mode that could run away on a host without limits is capped.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		die("usage: rlhelper MODE [ARGS...]")
	}
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "mem":
		mem()
	case "fork":
		need(args, 1)
		fork(args[0])
	case "spin":
		spin()
	case "spintree":
		need(args, 2)
		n, err := strconv.Atoi(args[0])
		if err != nil {
			die(err.Error())
		}
		spinTree(n, args[1])
	case "fds":
		fds()
	case "daemon":
		need(args, 3)
		daemon(args[0], args[1], args[2])
	case "middle":
		need(args, 2)
		middle(args[0], args[1])
	case "nocgroup":
		need(args, 1)
		noCgroup(args)
	case "grandchild":
		need(args, 2)
		grandchild(args[0])
	default:
		die("unknown mode " + mode)
	}
}

func need(args []string, n int) {
	if len(args) < n {
		die(fmt.Sprintf("%s needs %d arguments", os.Args[1], n))
	}
}

func die(msg string) {
	fmt.Fprintln(os.Stderr, "rlhelper:", msg)
	os.Exit(2)
}

func self() string {
	p, err := os.Executable()
	if err != nil {
		die(err.Error())
	}
	return p
}

func forever() {
	for {
		time.Sleep(time.Hour)
	}
}

var sink [][]byte

func mem() {
	page := os.Getpagesize()
	for i := 1; i <= 512; i++ {
		b := make([]byte, 1<<20)
		for j := 0; j < len(b); j += page {
			b[j] = byte(i)
		}
		sink = append(sink, b)
		fmt.Printf("allocated %d MiB\n", i)
	}
	fmt.Println("limit not hit")
	forever()
}

func fork(marker string) {
	// Few runtime threads: every thread counts against pids.max.
	runtime.GOMAXPROCS(1)
	started, failures := 0, 0
	for started < 64 {
		cmd := &exec.Cmd{Path: "/bin/sleep", Args: []string{marker, "60"}}
		if err := cmd.Start(); err != nil {
			failures++
			if failures == 1 || failures%50 == 0 {
				fmt.Printf("fork failed after %d started: %v\n", started, err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		started++
		fmt.Printf("started %d\n", started)
	}
	fmt.Println("limit not hit")
	forever()
}

var spinSink uint64

func spin() {
	x := uint64(1)
	for {
		for range 1 << 20 {
			x = x*6364136223846793005 + 1442695040888963407
		}
		spinSink = x
	}
}

func spinTree(n int, marker string) {
	for range n - 1 {
		cmd := exec.Command(self(), "spin", marker)
		if err := cmd.Start(); err != nil {
			die(err.Error())
		}
		fmt.Printf("child %d\n", cmd.Process.Pid)
	}
	spin()
}

func fds() {
	n := 0
	for {
		if _, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0); err != nil {
			fmt.Printf("opened %d: %v\n", n, err)
			return
		}
		n++
		if n > 100000 {
			fmt.Printf("opened %d: no limit\n", n)
			return
		}
	}
}

func daemon(how, pidfile, marker string) {
	if err := exec.Command(self(), "middle", pidfile, marker).Run(); err != nil {
		die("middle: " + err.Error())
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(pidfile)
		if err == nil && len(b) > 0 {
			fmt.Printf("grandchild %s\n", b)
			break
		}
		if time.Now().After(deadline) {
			die("the grandchild wrote no pid file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if how == "exit" {
		return
	}
	forever()
}

// middle starts the grandchild in a new session and exits at once, so the
// grandchild is re-parented and no longer in the leader's process group.
func middle(pidfile, marker string) {
	cmd := exec.Command(self(), "grandchild", pidfile, marker)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		die(err.Error())
	}
}

func grandchild(pidfile string) {
	tmp := pidfile + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		die(err.Error())
	}
	if err := os.Rename(tmp, pidfile); err != nil {
		die(err.Error())
	}
	forever()
}

// noCgroup hides the cgroup filesystem from PROGRAM. The caller must have
// put this process in its own mount namespace (CLONE_NEWNS, propagation
// private), so the host's mounts are untouched.
func noCgroup(argv []string) {
	if err := syscall.Unmount("/sys/fs/cgroup", syscall.MNT_DETACH); err != nil {
		die("unmount /sys/fs/cgroup: " + err.Error())
	}
	die("exec: " + syscall.Exec(argv[0], argv, os.Environ()).Error())
}
