package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// A host where no cgroup can be used (as for a non-root server without a
// delegated group) says so once at start, naming each limit and the fix.
func TestWarnUnenforcedLimits(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o644)
	cg, err := cgroup.Detect(cgroup.DetectOptions{Root: dir, ProcSelfCgroup: empty, MountInfo: empty})
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	if s := cg.Support(); s.Memory || s.Pids || s.CPU {
		t.Fatalf("support %+v from an empty mount table", s)
	}
	var buf bytes.Buffer
	warnUnenforcedLimits(&config.Config{}, cg, slog.New(slog.NewTextHandler(&buf, nil)))
	out := buf.String()
	if strings.Count(out, "resource limits not enforced on this host") != 1 {
		t.Fatalf("stderr %q: want one warning", out)
	}
	for _, k := range []string{"maxMemoryMB", "maxProcesses", "maxCpuPercent", "to enforce them"} {
		if !strings.Contains(out, k) {
			t.Errorf("warning lacks %s: %s", k, out)
		}
	}
	strict := unenforcedLimits(&config.Config{StrictResourceEnforcement: true}, cg)
	if !strings.Contains(strict, "strictResourceEnforcement refuses") {
		t.Errorf("strict: %s", strict)
	}
}
