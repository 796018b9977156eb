package sandbox

import (
	"fmt"
	"os"
	"testing"
	"time"
)

// A launch with a mount namespace of its own is held by the launcher from
// the exec to the reap, and no longer: after Wait no descriptor of the
// launcher names the namespace. A launch in the server's mount namespace
// holds nothing.
func TestMountNSHeldUntilReap(t *testing.T) {
	needRoot(t)
	for _, tc := range []struct {
		name string
		iso  Isolation
		held bool
	}{
		{"private view", Isolation{Private: []string{"/tmp"}}, true},
		{"server's namespace", Isolation{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLauncher(LauncherOptions{Isolation: tc.iso})
			defer l.Close()
			spec := specFor(t, "sleep", "0.3")
			spec.Dir = "/"
			p, err := l.Start(spec, Stdio{})
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Release(); err != nil {
				t.Fatal(err)
			}
			ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", p.Pid))
			if err != nil {
				t.Fatal(err)
			}
			p.mu.Lock()
			hold := p.nsHold
			p.mu.Unlock()
			if (hold != 0) != tc.held {
				t.Fatalf("held %v, want %v", hold != 0, tc.held)
			}
			if tc.held {
				if got, _ := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", hold-1)); got != ns {
					t.Fatalf("the hold names %q, the target's namespace is %q", got, ns)
				}
			}
			if st := p.Wait(); st.ExitCode == nil || *st.ExitCode != 0 {
				t.Fatalf("sleep ended %v", st)
			}
			deadline := time.Now().Add(2 * time.Second)
			for holdsNS(t, ns) {
				if time.Now().After(deadline) {
					t.Fatalf("the launcher still holds %s after the reap", ns)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// holdsNS: a descriptor of this process names ns.
func holdsNS(t *testing.T, ns string) bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if link, _ := os.Readlink("/proc/self/fd/" + e.Name()); link == ns {
			return true
		}
	}
	return false
}
