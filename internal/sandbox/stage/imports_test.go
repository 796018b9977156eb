package stage

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The stage runs first in a program's initialisation only while it imports
// nothing that the runtime does not already bring (sys_linux_other.go, for
// the architectures without assembly, is the one exception).
func TestStageImportsNothing(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "sys_linux_other.go" {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p != "unsafe" && p != "runtime" {
				t.Errorf("%s imports %s: the stage would run after that package's dependencies are initialised", f, p)
			}
		}
	}
}
