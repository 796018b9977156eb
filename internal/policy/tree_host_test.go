package policy

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// The development and cicd profiles on this host: every tool an agent may
// launch is exec-able in the tree, with its interpreter and loader, and no
// shell is while shells are blocked. The size and the time are printed
// (TREE_LIST=1 prints the list), never asserted.
func TestTreeExecutablesProfilesOnThisHost(t *testing.T) {
	shells := map[string]bool{}
	for _, s := range []string{"/bin/sh", "/bin/bash", "/bin/dash"} {
		if r, err := filepath.EvalSymlinks(s); err == nil {
			shells[r] = true
		}
	}
	for _, name := range []string{"development", "cicd"} {
		t.Run(name, func(t *testing.T) {
			c, err := config.Profile(name)
			if err != nil {
				t.Fatal(err)
			}
			c.EnableChroot = false
			c.AllowedWorkingDirectories = []string{t.TempDir()}
			p := mustNew(t, *c)
			start := time.Now()
			files, err := p.TreeFiles()
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d files in %v", name, len(files), took)
			in := map[string]string{}
			for _, f := range files {
				in[f.Path] = f.Why
				if os.Getenv("TREE_LIST") != "" {
					t.Logf("  %s  (%s)", f.Path, f.Why)
				}
				fi, err := os.Stat(f.Path)
				if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
					t.Errorf("%s (%s) is not an executable regular file: %v", f.Path, f.Why, err)
				}
				if shells[f.Path] && c.BlockShellInterpreters {
					t.Errorf("the shell %s is exec-able (%s) while shells are blocked", f.Path, f.Why)
				}
			}
			launchable := 0
			for _, tool := range c.AllowedExecutables {
				d := p.Evaluate(Request{Executable: tool}, time.Now())
				if !d.Allow {
					t.Logf("%s: %v", tool, d.Err) // not installed here: nothing to find
					continue
				}
				launchable++
				for _, want := range []string{d.Spec.Path, d.Spec.Interpreter} {
					if want != "" && in[want] == "" {
						t.Errorf("%s may be launched but %s is not in the tree's list", tool, want)
					}
				}
				if ld := elfInterpreter(d.Spec.Path); ld != "" {
					real, _ := filepath.EvalSymlinks(ld)
					if in[real] == "" {
						t.Errorf("%s's loader %s is not in the list", tool, real)
					}
				}
			}
			if _, err := os.Stat("/usr/bin/git"); err == nil && launchable == 0 {
				t.Error("git is installed but no tool of the profile may be launched: the check above checked nothing")
			}
			if !c.BlockShellInterpreters {
				sh, _ := filepath.EvalSymlinks("/bin/sh")
				if !slices.ContainsFunc(files, func(f TreeFile) bool { return f.Path == sh }) {
					t.Errorf("shells allowed, but /bin/sh (%s) is not in the list", sh)
				}
			}
		})
	}
}
