//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// StartRecorded's and StartCommitted's record callback against every way
// the launch can end, through the zygote and through a Go stage: the
// target never runs before record returns nor when it fails, and nothing
// is left (child, cgroup, goroutine). A committed launch through the
// zygote runs its target without Release (which then confirms the exec);
// a recorded one, and a committed one through a stage, wait for Release.
func TestStartRecorded(t *testing.T) {
	needRoot(t)
	for _, kind := range []struct {
		name   string
		stage  StageKind
		commit bool
	}{{"zygote", StageZygote, false}, {"go", StageGo, false}, {"zygote-committed", StageZygote, true}, {"go-committed", StageGo, true}} {
		t.Run(kind.name, func(t *testing.T) {
			start := (*Launcher).StartRecorded
			if kind.commit {
				start = (*Launcher).StartCommitted
			}
			m := cgroupTestManager(t)
			l := NewLauncher(LauncherOptions{Cgroups: m, Stage: kind.stage, PoolSize: -1})
			defer l.Close()
			groupsBefore := len(groupDirs(m))
			g0 := runtime.NumGoroutine()
			recErr := errors.New("disk full")
			for _, tc := range []struct {
				name     string
				stepFail bool // the child fails a step (rlimit above nr_open)
				recFail  bool
				delay    time.Duration
			}{
				{"ok-slow-record", false, false, 300 * time.Millisecond},
				{"record-fails-fast", false, true, 0},
				{"record-fails-slow", false, true, 300 * time.Millisecond},
				{"step-fails-record-ok", true, false, 300 * time.Millisecond},
				{"step-fails-record-fails", true, true, 300 * time.Millisecond},
				{"step-fails-record-fails-fast", true, true, 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					marker := filepath.Join(t.TempDir(), "ran")
					spec := specFor(t, "sh", "-c", "echo > "+marker)
					spec.Limits.MaxMemoryMB = 64
					if tc.stepFail {
						spec.Limits.MaxFileDescriptors = 1 << 30
					}
					calls, gotPid := 0, 0
					p, err := start(l, spec, Stdio{}, func(pid int) error {
						calls++
						gotPid = pid
						time.Sleep(tc.delay)
						if _, serr := os.Stat(marker); serr == nil {
							t.Error("the target ran before its record returned")
						}
						if tc.recFail {
							return recErr
						}
						return nil
					})
					if calls != 1 && !(kind.stage == StageGo && tc.stepFail && calls == 0) {
						t.Fatalf("record called %d times", calls)
					}
					switch {
					case tc.recFail && calls == 1:
						if err != recErr || p != nil {
							t.Fatalf("StartRecorded = %v, %v; want the record's error", p, err)
						}
					case tc.stepFail:
						if err == nil || errcode.As(err).Code != errcode.LayerUnavailable {
							t.Fatalf("StartRecorded = %v, %v; want the step's error", p, err)
						}
					default:
						if err != nil {
							t.Fatal(err)
						}
						early := false
						for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
							if _, serr := os.Stat(marker); serr == nil {
								early = true
								break
							}
						}
						if want := kind.commit && kind.stage == StageZygote; early != want {
							t.Fatalf("the target ran before Release: %v, want %v", early, want)
						}
						if err := p.Release(); err != nil {
							t.Fatal(err)
						}
						p.Wait()
						dropGroup(p.Cgroup())
						if _, serr := os.Stat(marker); serr != nil {
							t.Fatal("the released target did not run")
						}
						return
					}
					if gotPid == 0 {
						return
					}
					if err := syscall.Kill(gotPid, 0); err != syscall.ESRCH {
						t.Errorf("child %d still exists after the failed launch (kill: %v)", gotPid, err)
					}
					time.Sleep(100 * time.Millisecond)
					if _, serr := os.Stat(marker); serr == nil {
						t.Fatal("the target ran although its launch failed")
					}
				})
			}
			l.Close() // the pooled groups go too: any group left is a launch's
			if n := len(groupDirs(m)); n != 0 {
				t.Errorf("%d cgroups left after Close (%d at the start): %v", n, groupsBefore, groupDirs(m))
			}
			time.Sleep(100 * time.Millisecond)
			if g := runtime.NumGoroutine(); g > g0+2 {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines after, %d before:\n%s", g, g0, buf[:runtime.Stack(buf, true)])
			}
		})
	}
}

// the gate after seccomp (and after the identity, Landlock and the
// scopes). A launch held at its gate for seconds (a slow launch record)
// under the strict profile, through a Go init stage and through the
// zygote, still execs its target once released, as the target's user.
func TestHeldAtGateUnderStrict(t *testing.T) {
	needRoot(t)
	for _, kind := range []struct {
		name  string
		stage StageKind
		ns    bool
	}{{"zygote", StageZygote, false}, {"go", StageGo, false}, {"go-userns", StageGo, true}} {
		t.Run(kind.name, func(t *testing.T) {
			iso, err := IsolationFor(&config.Config{EnableSeccomp: true, SeccompProfile: "strict"})
			if err != nil {
				t.Fatal(err)
			}
			iso.Identity = config.ChildIdentity{Set: true, UID: 65534, GID: 65534}
			iso.Landlock = true
			iso.Scope = true
			if kind.ns {
				iso.Namespaces.User = true
				iso.Identity.InUserNS = true
				iso.Identity.UID, iso.Identity.GID = 0, 0
			}
			l := NewLauncher(LauncherOptions{Stage: kind.stage, Isolation: iso, PoolSize: -1})
			defer l.Close()
			for i := 0; i < 3; i++ {
				r, w, _ := os.Pipe()
				spec := specFor(t, "id", "-u")
				spec.Dir = "/"
				p, err := l.StartRecorded(spec, Stdio{Stdout: w}, func(int) error {
					time.Sleep(1500 * time.Millisecond)
					return nil
				})
				w.Close()
				if err != nil {
					r.Close()
					t.Fatal(err)
				}
				if err := p.Release(); err != nil {
					r.Close()
					t.Fatal(err)
				}
				out, _ := io.ReadAll(r)
				r.Close()
				st := p.Wait()
				dropGroup(p.Cgroup())
				want := "65534"
				if kind.ns {
					want = "0"
				}
				if st.ExitCode == nil || *st.ExitCode != 0 || strings.TrimSpace(string(out)) != want {
					t.Fatalf("launch %d: %s, output %q; want 0 and %s", i, st, out, want)
				}
			}
		})
	}
}
