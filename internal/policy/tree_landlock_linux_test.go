//go:build linux

package policy

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
)

// treeHelperEnv carries the list to the helper process ("none": run
// without a ruleset, the baseline).
const treeHelperEnv = "MCP_PROCESS_TREE_EXEC_HELPER"

// TestTreeExecHelper is not a test: run by TestTreeListUnderLandlock, it
// restricts execute to the files of $MCP_PROCESS_TREE_EXEC_HELPER with
// Landlock (as the init stage does) and execs its arguments.
func TestTreeExecHelper(t *testing.T) {
	list := os.Getenv(treeHelperEnv)
	if list == "" {
		t.Skip("the helper process of TestTreeListUnderLandlock")
	}
	runtime.LockOSThread() // Landlock and no_new_privs hold for this thread, which execs
	if list != "none" {
		if err := restrictExec(strings.Split(list, "\n")); err != nil {
			os.Stderr.WriteString("helper: " + err.Error() + "\n")
			os.Exit(125)
		}
	}
	argv := flag.Args()
	err := syscall.Exec(argv[0], argv, os.Environ())
	os.Stderr.WriteString("helper: exec: " + err.Error() + "\n")
	os.Exit(126)
}

func restrictExec(paths []string) error {
	attr := unix.LandlockRulesetAttr{Handled_access_fs: unix.LANDLOCK_ACCESS_FS_EXECUTE}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr), 0)
	if e != 0 {
		return e
	}
	for _, p := range paths {
		pf, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
		if err != nil {
			return errors.New(p + ": " + err.Error())
		}
		var st unix.Stat_t
		if err := unix.Fstat(pf, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			return errors.New(p + ": not a regular file")
		}
		ra := unix.LandlockPathBeneathAttr{Allowed_access: unix.LANDLOCK_ACCESS_FS_EXECUTE, Parent_fd: int32(pf)}
		if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&ra)), 0, 0, 0); e != 0 {
			return errors.New(p + ": landlock_add_rule: " + e.Error())
		}
		unix.Close(pf)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, fd, 0, 0); e != 0 {
		return e
	}
	return nil
}

// The development profile's list, enforced as the init stage enforces it:
// git, npm (through env) and pip3 (through python3) work; what they or an
// allowed interpreter try to spawn beyond the list fails with EACCES. The
// baseline runs the same commands without the ruleset.
func TestTreeListUnderLandlock(t *testing.T) {
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skipf("no Landlock here: %v", err)
	}
	for _, tool := range []string{"/usr/bin/git", "/usr/bin/node", "/usr/bin/python3"} {
		if _, err := os.Stat(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	c, err := config.Profile("development")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c.AllowedWorkingDirectories = []string{dir}
	files, err := mustNew(t, *c).TreeExecutables()
	if err != nil {
		t.Fatal(err)
	}
	run := func(list string, argv ...string) (string, error) {
		cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestTreeExecHelper$", "--"}, argv...)...)
		cmd.Dir = dir
		cmd.Env = []string{treeHelperEnv + "=" + list, "PATH=" + config.DefaultSearchPath, "HOME=" + dir,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com"}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	tree := strings.Join(files, "\n")
	works := [][]string{
		{"/usr/bin/git", "init", "-q", "."},
		{"/usr/bin/git", "commit", "-q", "--allow-empty", "-m", "x"},
		{"/usr/bin/git", "log", "--oneline"},
		{"/usr/bin/python3", "-c", "import subprocess; subprocess.run(['git', '--version'], check=True)"},
	}
	if _, err := os.Stat("/usr/bin/npm"); err == nil {
		works = append(works, []string{"/usr/bin/npm", "--version"}) // env, then node
	}
	if _, err := os.Stat("/usr/bin/pip3"); err == nil {
		works = append(works, []string{"/usr/bin/pip3", "--version"})
	}
	for _, argv := range works {
		if out, err := run(tree, argv...); err != nil {
			t.Errorf("%q under the tree list: %v\n%s", argv, err, out)
		}
	}
	// git runs the local transport through /bin/sh ("git-upload-pack
	// '<dir>'"): refused while shells are blocked, fine once /bin/sh is
	// the helper that blockShellInterpreters false makes it.
	clone := []string{"/usr/bin/git", "clone", "-q", dir, dir + "/clone"}
	if out, err := run(tree, clone...); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("git clone of a local repository with shells blocked: %v\n%s", err, out)
	}
	c.BlockShellInterpreters = false
	withSh, err := mustNew(t, *c).TreeExecutables()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := run(strings.Join(withSh, "\n"), clone...); err != nil {
		t.Errorf("git clone of a local repository with /bin/sh a helper: %v\n%s", err, out)
	}
	refused := [][]string{
		{"/usr/bin/node", "-e", "require('child_process').execSync('id')"},                       // /bin/sh
		{"/usr/bin/python3", "-c", "import subprocess; subprocess.run(['/bin/ls'], check=True)"}, // not allowed
		{"/usr/bin/env", "/bin/ls"}, // env runs only the list
		{"/bin/ls"},
	}
	for _, argv := range refused {
		out, err := run(tree, argv...)
		if err == nil || !strings.Contains(strings.ToLower(out), "permission denied") && !strings.Contains(out, "EACCES") {
			t.Errorf("%q under the tree list: %v, want a permission error\n%s", argv, err, out)
		}
		// Baseline: without the ruleset the same command runs.
		if out, err := run("none", argv...); err != nil {
			t.Errorf("baseline %q: %v\n%s", argv, err, out)
		}
	}
}
