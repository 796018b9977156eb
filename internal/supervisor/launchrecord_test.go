package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Concurrent launches, some whose launch record fails, some whose
// child fails a step after its record: the target runs only with its
// record on disk, and every record on disk of a launch that failed is
// followed by its exit record.
func TestConcurrentLaunchRecordsConsistent(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxConcurrentProcesses = 64
	cfg.MaxLaunchesPerMinute = 1000
	s, fa := newSup(t, cfg)
	fa.fail = func(r audit.Record) bool {
		return r.Event == audit.EventLaunch && len(r.Args) > 1 && strings.Contains(r.Args[1], "-recfail-")
	}
	dir := markerDir(t)
	const n = 24
	var wg sync.WaitGroup
	errs := make([]error, n)
	markers := make([]string, n)
	for i := 0; i < n; i++ {
		kind := []string{"ok", "recfail", "stepfail", "both"}[i%4]
		name := fmt.Sprintf("m%d-%s-", i, kind)
		if kind == "both" {
			name = fmt.Sprintf("m%d-recfail-stepfail-", i)
		}
		markers[i] = filepath.Join(dir, name)
		wg.Add(1)
		go func(i int, kind string) {
			defer wg.Done()
			spec := specFor(t, "sh", "-c", "echo > "+markers[i])
			if kind == "stepfail" || kind == "both" {
				spec.Limits.MaxFileDescriptors = 1 << 30
			}
			_, errs[i] = s.Start(agentA, spec, capture())
		}(i, kind)
	}
	wg.Wait()
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < n; i++ {
		ran := false
		if _, err := os.Stat(markers[i]); err == nil {
			ran = true
		}
		okLaunch := strings.Contains(markers[i], "-ok-")
		if okLaunch != (errs[i] == nil) || ran != okLaunch {
			t.Errorf("%s: err %v, ran %v", filepath.Base(markers[i]), errs[i], ran)
		}
		if strings.Contains(markers[i], "-recfail-") {
			wantCode(t, errs[i], errcode.Internal)
		}
	}
	// Every launch record that was written (did not fail) of a launch that
	// failed has one exit record.
	for _, r := range fa.events(audit.EventLaunch, 0) {
		if strings.Contains(r.Args[1], "-recfail-") || strings.Contains(r.Args[1], "-ok-") {
			continue
		}
		exits := fa.events(audit.EventExit, r.PID)
		if len(exits) != 1 || !strings.HasPrefix(exits[0].Reason, "setup failed: ") {
			t.Errorf("launch record %v: exit records %+v", r.Args, exits)
		}
	}
	for _, r := range fa.events(audit.EventLaunch, 0) {
		if strings.Contains(r.Args[1], "-recfail-") && len(fa.events(audit.EventExit, r.PID)) != 0 {
			t.Errorf("an exit record of a launch whose record failed: %+v", fa.events(audit.EventExit, r.PID))
		}
	}
}

// markerDir is a directory a child can write and the test can see. Not
// t.TempDir(): a child's /tmp is a private tmpfs (SPEC 7.1a), so a marker
// there is never seen, and "the target never ran" would hold whatever
// happens; and the children run as 65534 (a root server's default).
func markerDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(".", "marker-")
	if err != nil {
		t.Fatal(err)
	}
	if dir, err = filepath.Abs(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
