package e2e

import (
	"os"
	"path/filepath"
	"testing"
)

// A #! script launched under the default containment (a root server's
// children are 65534, private view, Landlock tree scope) finds the files
// beside it: sys.argv[0] and __file__ are its real path, not /dev/fd/3,
// for an absolute interpreter and for "#!/usr/bin/env python3".
func TestScriptFindsFilesBesideItself(t *testing.T) {
	t.Parallel()
	needPython(t)
	e := newEnv(t)
	dir := filepath.Join(e.work, "tools")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data.txt"), []byte("beside me"), 0o644); err != nil {
		t.Fatal(err)
	}
	const body = "import os, sys\nprint(sys.argv[0], sys.argv[1:], __file__ == sys.argv[0], open(os.path.join(os.path.dirname(__file__), 'data.txt')).read())\n"
	abs := filepath.Join(dir, "abs.py")
	viaEnv := filepath.Join(dir, "env.py")
	if err := os.WriteFile(abs, []byte("#!"+python+"\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(viaEnv, []byte("#!/usr/bin/env python3\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(abs, viaEnv, "python3")
	cfg["searchPath"] = filepath.Dir(python)
	s := startServer(t, e, cfg)
	for _, script := range []string{abs, viaEnv} {
		var r runResult
		s.ok("process_run", map[string]any{"executable": script, "args": []string{"x"}}, &r)
		if want := script + " ['x'] True beside me\n"; r.Stdout != want {
			t.Errorf("%s: stdout %q stderr %q, want %q", filepath.Base(script), r.Stdout, r.Stderr, want)
		}
	}
}
