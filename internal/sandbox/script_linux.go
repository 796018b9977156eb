//go:build linux

package sandbox

import (
	"bytes"
	"os"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/policy"
)

// scriptExec turns the launch of a "#!" script into the launch of its
// checked interpreter (spec.Run): it opens the interpreter, checks that it
// is the file the policy checked (identity, regular file, no setuid/setgid
// bit gained, the same "#!" line if it is a script itself), and returns
// its descriptor, the spec with the argument vector the kernel would have
// built (the interpreter's words, the script's real path, the request's
// arguments), and whether the interpreter is itself a script (the stage
// then execs it as one). The script itself was checked by the caller.
//
// The interpreter opens the script by its path afterwards; see
// policy.ScriptRun for what that window leaves.
func scriptExec(spec *policy.Spec) (*os.File, *policy.Spec, bool, error) {
	run := spec.Run
	if run == nil || run.Interpreter == "" || len(run.Args) == 0 || run.ScriptPath == "" {
		// Fail closed: never hand the kernel a script whose interpreter
		// was not checked.
		return nil, nil, false, changed("%s is a #! script but its interpreter was not checked", spec.Path)
	}
	fd, err := openCheckedFile(run.Interpreter)
	if err != nil {
		return nil, nil, false, changed("open the #! interpreter %s of %s: %v", run.Interpreter, spec.Path, err)
	}
	f := os.NewFile(uintptr(fd), run.Interpreter)
	fail := func(err error) (*os.File, *policy.Spec, bool, error) {
		f.Close()
		return nil, nil, false, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fail(changed("fstat %s: %v", run.Interpreter, err))
	}
	if uint64(st.Dev) != run.Dev || st.Ino != run.Ino {
		return fail(changed("the #! interpreter %s is no longer the file that was checked", run.Interpreter))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fail(changed("the #! interpreter %s is not a regular file", run.Interpreter))
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 && !run.SetID {
		return fail(changed("the #! interpreter %s gained a setuid/setgid bit", run.Interpreter))
	}
	head := make([]byte, 256) // BINPRM_BUF_SIZE
	n, _ := unix.Pread(fd, head, 0)
	head = head[:max(n, 0)]
	nested := bytes.HasPrefix(head, []byte("#!"))
	if line, _, _ := bytes.Cut(head, []byte("\n")); nested != (run.Shebang != "") || (nested && string(line) != run.Shebang) {
		return fail(changed("the #! interpreter %s: its own #! line is not the one that was checked", run.Interpreter))
	}
	argv := make([]string, 0, len(run.Args)+len(spec.Argv))
	argv = append(argv, run.Args...)
	argv = append(argv, run.ScriptPath)
	if len(spec.Argv) > 1 {
		argv = append(argv, spec.Argv[1:]...)
	}
	out := *spec
	out.Argv = argv
	return f, &out, nested, nil
}
