//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	layers "github.com/mcp-process/mcp-process/internal/layer"
)

// A committed zygote launch ("go" sent at the record) whose child fails a
// step after the identity (Landlock: a writable path that does not exist),
// or whose exec fails after "go" (a script whose interpreter is missing):
// the target never runs, the caller gets the step's error, and nothing is
// left (child, cgroup).
func TestCommittedLateFailure(t *testing.T) {
	needRoot(t)
	m := cgroupTestManager(t)
	iso, err := IsolationFor(&config.Config{EnableSeccomp: true, SeccompProfile: "strict"})
	if err != nil {
		t.Fatal(err)
	}
	iso.Identity = config.ChildIdentity{Set: true, UID: 65534, GID: 65534}
	iso.Landlock = true
	missing := filepath.Join(t.TempDir(), "missing")
	t.Run("landlock", func(t *testing.T) {
		iso := iso
		iso.WritablePaths = []string{missing}
		l := NewLauncher(LauncherOptions{Cgroups: m, Stage: StageZygote, Isolation: iso, PoolSize: -1})
		defer l.Close()
		marker := filepath.Join(t.TempDir(), "ran")
		os.Chmod(filepath.Dir(marker), 0o777)
		spec := specFor(t, "sh", "-c", "echo > "+marker)
		spec.Dir = "/"
		var pid int
		p, err := l.StartCommitted(spec, Stdio{}, func(got int) error { pid = got; return nil })
		if err == nil {
			p.Release()
			p.Wait()
			dropGroup(p.Cgroup())
			t.Fatal("StartCommitted succeeded with a writable path that does not exist")
		}
		if e := errcode.As(err); e.Layer != string(layers.Landlock) {
			t.Errorf("StartCommitted: %v (layer %s); want Landlock's step error", err, e.Layer)
		}
		if l.zygoteServed() == 0 {
			t.Fatal("the launch did not go through the zygote")
		}
		checkGone(t, pid, marker)
		l.Close()
		if n := len(groupDirs(m)); n != 0 {
			t.Errorf("cgroups left: %v", groupDirs(m))
		}
	})
	t.Run("exec", func(t *testing.T) {
		l := NewLauncher(LauncherOptions{Cgroups: m, Stage: StageZygote, Isolation: iso, PoolSize: -1})
		defer l.Close()
		dir := t.TempDir()
		os.Chmod(dir, 0o755)
		// The interpreter exists (the launcher opens it) but its user may
		// not run it: execveat fails in the child, after "go".
		sh, err := os.ReadFile("/bin/sh")
		if err != nil {
			t.Fatal(err)
		}
		interp := filepath.Join(dir, "sh")
		if err := os.WriteFile(interp, sh, 0o700); err != nil {
			t.Fatal(err)
		}
		script := filepath.Join(dir, "s")
		if err := os.WriteFile(script, []byte("#!"+interp+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		spec := specFor(t, script)
		spec.Dir = "/"
		var pid int
		p, err := l.StartCommitted(spec, Stdio{}, func(got int) error { pid = got; return nil })
		if err != nil {
			t.Fatalf("StartCommitted: %v (the exec fails later, at Release)", err)
		}
		if l.zygoteServed() == 0 {
			t.Fatal("the launch did not go through the zygote")
		}
		if err := p.Release(); err == nil {
			p.Wait()
			dropGroup(p.Cgroup())
			t.Fatal("Release succeeded for a script whose interpreter is missing")
		} else if e := errcode.As(err); !strings.Contains(e.Message, "exec") {
			t.Errorf("Release: %v; want the exec's failure", err)
		}
		checkGone(t, pid, "")
		l.Close()
		if n := len(groupDirs(m)); n != 0 {
			t.Errorf("cgroups left: %v", groupDirs(m))
		}
	})
}

// A committed zygote launch whose target already runs (and started a
// process of its own in a new session) is aborted before Release: nothing
// of it is left.
func TestCommittedAbortAfterExec(t *testing.T) {
	needRoot(t)
	m := cgroupTestManager(t)
	l := NewLauncher(LauncherOptions{Cgroups: m, Stage: StageZygote, PoolSize: -1})
	defer l.Close()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	spec := specFor(t, "sh", "-c", "setsid sleep 1000 & echo $! > "+pidFile+".tmp; mv "+pidFile+".tmp "+pidFile+"; wait")
	var pid int
	p, err := l.StartCommitted(spec, Stdio{}, func(got int) error { pid = got; return nil })
	if err != nil {
		t.Fatal(err)
	}
	if l.zygoteServed() == 0 {
		t.Fatal("the launch did not go through the zygote")
	}
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err = os.ReadFile(pidFile); err == nil {
			break
		}
	}
	if err != nil {
		p.Abort()
		t.Fatal("the committed target did not run before Release")
	}
	grand, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		p.Abort()
		t.Fatal(err)
	}
	p.Abort()
	checkGone(t, pid, "")
	if st := procState(grand); st != "" && st != "Z" {
		syscall.Kill(grand, syscall.SIGKILL)
		t.Errorf("the target's process %d (new session) survived the Abort (state %s)", grand, st)
	}
	l.Close()
	if n := len(groupDirs(m)); n != 0 {
		t.Errorf("cgroups left: %v", groupDirs(m))
	}
}

// procState is the state letter of /proc/PID/stat ("": no such process).
func procState(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 || i+2 >= len(b) {
		return ""
	}
	return string(b[i+2])
}

// checkGone: pid is reaped and the target never wrote marker ("": no
// marker to check).
func checkGone(t *testing.T, pid int, marker string) {
	t.Helper()
	if pid != 0 {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("child %d still exists after the failed launch (kill: %v)", pid, err)
		}
	}
	if marker == "" {
		return
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the target ran although its launch failed")
	}
}
