package supervisor

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// A launch that goes "go" at its record (Launcher.StartCommitted: no
// egress proxy, no health check) whose exec then fails in the child (its
// interpreter exists, but the child's user may not run it): the call
// fails, the target never ran, nothing is listed or left, and its launch
// record on disk is followed by one exit record that says the exec failed.
func TestCommittedLaunchExecFailsRecorded(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the children run as 65534")
	}
	s, fa := newSup(t, baseConfig())
	dir := markerDir(t)
	sh, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	interp := filepath.Join(dir, "sh")
	if err := os.WriteFile(interp, sh, 0o700); err != nil { // root's only
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	script := filepath.Join(dir, "s")
	if err := os.WriteFile(script, []byte("#!"+interp+"\necho > "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := specFor(t, script)
	spec.Script, spec.Shebang = true, "#!"+interp
	var st syscall.Stat_t
	if err := syscall.Stat(interp, &st); err != nil {
		t.Fatal(err)
	}
	spec.Run = &policy.ScriptRun{Interpreter: interp, Args: []string{interp}, ScriptPath: script, Dev: uint64(st.Dev), Ino: st.Ino}

	_, err = s.Start(agentA, spec, capture())
	if err == nil {
		t.Fatal("the launch of a script whose interpreter its user may not run succeeded")
	}
	time.Sleep(100 * time.Millisecond)
	if _, serr := os.Stat(marker); serr == nil {
		t.Fatal("the target ran although its launch failed")
	}
	if l := s.List(agentA, ""); len(l) != 0 {
		t.Fatalf("failed launch is listed: %+v", l)
	}
	launches := fa.events(audit.EventLaunch, 0)
	if len(launches) != 1 {
		t.Fatalf("launch records %+v (err %v)", launches, err)
	}
	pid := launches[0].PID
	if kerr := syscall.Kill(pid, 0); kerr != syscall.ESRCH {
		t.Errorf("child %d still exists after the failed launch (kill: %v)", pid, kerr)
	}
	exits := fa.events(audit.EventExit, pid)
	if len(exits) != 1 || exits[0].Decision != "deny" || !strings.HasPrefix(exits[0].Reason, "exec failed: ") {
		t.Fatalf("launch record %+v: exit records %+v (err %v)", launches[0], exits, err)
	}
}
