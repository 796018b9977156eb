//go:build linux

package sandbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// With blockSetuidExecutables false, a file that had its setuid bit when
// the policy checked it runs (it used to fail every launch with INTERNAL
// "gained a setuid/setgid bit"); the bit is inert under no_new_privs
// (test/escape's SetuidExec_noNewPrivs shows that). A bit gained after the
// check is still refused (TestStartRefusesAChangedExecutable).
func TestStartRunsASetuidFileThePolicyAllowed(t *testing.T) {
	src, err := filepath.EvalSymlinks("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	data, _ := os.ReadFile(src)
	exe := filepath.Join(t.TempDir(), "suidtrue")
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(exe, 0o4755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p, err := policy.New(&config.Config{AllowedExecutables: []string{exe}, BlockSetuidExecutables: false,
		AllowedWorkingDirectories: []string{dir}, MaxProcessLifetime: 60})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Evaluate(policy.Request{Executable: exe, Cwd: dir}, time.Now())
	if !d.Allow {
		t.Fatalf("policy: %v", d.Err)
	}
	if !d.Spec.SetID {
		t.Fatal("the spec does not say the file was checked with its setuid bit")
	}
	l := NewLauncher(LauncherOptions{})
	defer l.Close()
	_, st := run(t, l, d.Spec)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		t.Fatalf("exit %+v, want 0", st)
	}
}
