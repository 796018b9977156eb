package policy

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// A script's Spec.Run is the checked interpreter with the argument vector
// Linux builds from the "#!" line (the rest of the line as one argument;
// env's program run directly, as env would find it in searchPath).
func TestScriptRun(t *testing.T) {
	f := newFixture(t)
	b := func(n string) string { return filepath.Join(f.bin, n) }
	writeFile(t, b("envtwo"), "#!/usr/bin/env mytrue --flag\n", 0o755)
	writeFile(t, b("envsplit"), "#!/usr/bin/env -S mytrue --flag  two\n", 0o755)
	writeFile(t, b("envquote"), "#!/usr/bin/env -S mytrue 'a b'\n", 0o755)
	writeFile(t, b("twoargs"), "#!  "+b("mytrue")+"\t-x   -y  \n", 0o755)
	cfg := f.baseConfig()
	cfg.AllowedExecutables = []string{"mytrue", "absok", "envok", "envtwo", "envsplit", "envquote", "twoargs", "nested"}
	p := mustNew(t, cfg)
	for _, tc := range []struct {
		name     string
		wantArgs []string
		wantCode errcode.Code
		nested   bool
	}{
		{"absok", []string{b("mytrue"), "-x"}, "", false},
		{"twoargs", []string{b("mytrue"), "-x   -y"}, "", false},
		{"envok", []string{"mytrue"}, "", false},
		{"envsplit", []string{"mytrue", "--flag", "two"}, "", false},
		{"envtwo", nil, errcode.ExecutableNotAllowed, false},
		{"envquote", nil, errcode.ExecutableNotAllowed, false},
		{"nested", []string{b("absok")}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := p.Evaluate(Request{Executable: tc.name, Args: []string{"arg"}}, noon)
			checkDecision(t, d, tc.wantCode, LayerExecutable)
			if tc.wantCode != "" {
				return
			}
			r := d.Spec.Run
			if r == nil {
				t.Fatal("no Run for a script")
			}
			if !slices.Equal(r.Args, tc.wantArgs) || r.ScriptPath != b(tc.name) {
				t.Errorf("Args %q ScriptPath %s, want %q %s", r.Args, r.ScriptPath, tc.wantArgs, b(tc.name))
			}
			wantInterp := b("mytrue")
			if tc.nested {
				wantInterp = b("absok")
			}
			dev, ino := fileID(mustStat(t, wantInterp))
			if r.Interpreter != wantInterp || r.Dev != dev || r.Ino != ino {
				t.Errorf("interpreter %s %d/%d, want %s %d/%d", r.Interpreter, r.Dev, r.Ino, wantInterp, dev, ino)
			}
			if (r.Shebang != "") != tc.nested {
				t.Errorf("interpreter's own #! line %q, nested %v", r.Shebang, tc.nested)
			}
		})
	}
	d := p.Evaluate(Request{Executable: "mytrue"}, noon)
	checkDecision(t, d, "", "")
	if d.Spec.Run != nil {
		t.Errorf("Run %+v for a binary", d.Spec.Run)
	}
}
