//go:build linux

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
	"golang.org/x/sys/unix"
)

// A child of the zygote changes its uid in the zygote's own memory (it
// shares it until its exec). The kernel then sets that memory's dumpable
// flag to fs.suid_dumpable: at 1, the zygote's memory (root's, with every
// capability) would be open to /proc/CHILD/mem and process_vm_readv of any
// process of the child's new uid (65534) from the child's last capset to
// its exec (a SIGSTOP holds the child there as long as one likes), and to
// the zygote's own uid for good. The child makes the memory non-dumpable
// again right after its setresuid, while it still holds its permitted
// capabilities (which keep an unprivileged tracer out until then), so the
// flag does not depend on the sysctl. Set to 1 only for one launch, after
// the zygote chose to share its memory.
func TestZygoteMemoryStaysUndumpableAcrossChildSetuid(t *testing.T) {
	needZygote(t)
	if !stage.VMForkSupported {
		t.Skip("the zygote forks on this architecture")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: it changes fs.suid_dumpable and the children change their uid")
	}
	const sysctl = "/proc/sys/fs/suid_dumpable"
	old, err := os.ReadFile(sysctl)
	if err != nil {
		t.Skip(err)
	}
	if strings.TrimSpace(string(old)) != "0" {
		t.Skipf("fs.suid_dumpable is %s here, not 0", strings.TrimSpace(string(old)))
	}
	dir := hostDir(t)
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	if !iso.Identity.Set {
		t.Skip("the default isolation changes no uid here")
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	defer l.Close()
	run := func() {
		t.Helper()
		spec := specFor(t, "/bin/true")
		spec.Dir = dir
		p, err := l.Start(spec, Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Abort()
		if !p.forked {
			t.Fatal("the launch was not forked by the zygote")
		}
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
		if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
			t.Fatalf("/bin/true: %+v", st)
		}
	}
	run() // the zygote starts with the sysctl at 0: its children share its memory
	zpid := l.zygotePid()
	if err := readWithoutPtraceCap(zpid); !errors.Is(err, unix.EPERM) {
		t.Fatalf("baseline: process_vm_readv of the fresh zygote without CAP_SYS_PTRACE: %v, want EPERM (the zygote is not dumpable)", err)
	}
	if err := os.WriteFile(sysctl, []byte("1"), 0); err != nil {
		t.Skip(err)
	}
	restore := func() { os.WriteFile(sysctl, old, 0) }
	defer restore()
	run()
	restore()
	if l.zygotePid() != zpid {
		t.Fatal("the zygote was restarted")
	}
	if err := readWithoutPtraceCap(zpid); err == nil {
		t.Fatal("after a child's change of uid under fs.suid_dumpable=1 the zygote's memory is dumpable: " +
			"a process without CAP_SYS_PTRACE reads it (and uid 65534 could, through the child, until its exec)")
	} else if !errors.Is(err, unix.EPERM) {
		t.Fatalf("process_vm_readv: %v, want EPERM", err)
	}
}

// readWithoutPtraceCap reads a word of pid's memory with process_vm_readv
// from a thread of this (root) process that keeps every capability
// permitted but CAP_SYS_PTRACE not effective: the kernel lets it through
// only when pid's memory is dumpable (SUID_DUMP_USER). The thread is
// thrown away after.
func readWithoutPtraceCap(pid int) error {
	addr, err := firstMapping(pid)
	if err != nil {
		return err
	}
	done := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		if err := unix.Capget(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		data[unix.CAP_SYS_PTRACE/32].Effective &^= 1 << (unix.CAP_SYS_PTRACE % 32)
		if err := unix.Capset(&hdr, &data[0]); err != nil {
			done <- err
			return
		}
		var word uint64
		local := []unix.Iovec{{Base: (*byte)(unsafe.Pointer(&word)), Len: 8}}
		remote := []unix.RemoteIovec{{Base: addr, Len: 8}}
		_, err := unix.ProcessVMReadv(pid, local, remote, 0)
		done <- err
	}()
	return <-done
}

// firstMapping is the start of pid's first readable mapping.
func firstMapping(pid int) (uintptr, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 || !strings.HasPrefix(fields[1], "r") {
			continue
		}
		start, _, _ := strings.Cut(fields[0], "-")
		a, err := strconv.ParseUint(start, 16, 64)
		return uintptr(a), err
	}
	return 0, errors.New("no readable mapping")
}
