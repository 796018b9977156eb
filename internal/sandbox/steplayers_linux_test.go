//go:build linux

package sandbox

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// Every step the init stage declares (a Step… constant in package stage)
// is claimed by one registry entry: a new step cannot be added without the
// layer its failure reports.
func TestEveryStageStepHasItsLayer(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("stage", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, p := range files {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				for i, n := range vs.Names {
					if !strings.HasPrefix(n.Name, "Step") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, _ := strconv.Unquote(lit.Value)
						steps = append(steps, v)
						if _, ok := layers.ForStep(v); !ok {
							t.Errorf("stage.%s = %q is claimed by no layer: add it to the Steps of its entry in internal/layer", n.Name, v)
						}
					}
				}
			}
		}
	}
	if len(steps) < 20 {
		t.Fatalf("found only %d steps in package stage: %v", len(steps), steps)
	}
	// The layer each step's failure reports.
	for step, want := range map[string]layers.Layer{
		stage.StepConfig: layers.Sandbox, stage.StepStdio: layers.Sandbox, stage.StepFDs: layers.Sandbox,
		stage.StepGate: layers.Sandbox, stage.StepChdir: layers.Sandbox, stage.StepExec: layers.Sandbox,
		stage.StepIdentity: layers.Sandbox, stage.StepRlimit: layers.ResourceLimits,
		stage.StepMounts: layers.Filesystem, stage.StepPrivate: layers.Filesystem, stage.StepHostname: layers.Namespaces,
		stage.StepLoopback: layers.Network, stage.StepEgress: layers.Network, stage.StepNetRules: layers.Network,
		stage.StepCaps: layers.Capabilities, stage.StepNoNewPrivs: layers.NoNewPrivs, stage.StepLandlock: layers.Landlock,
		stage.StepScope: layers.Landlock, stage.StepSeccomp: layers.Seccomp, stage.StepMAC: layers.MAC,
		stage.StepTerminal: layers.PTY,
	} {
		if got := stepLayer(step); got != want {
			t.Errorf("step %q reports layer %s, want %s", step, got, want)
		}
	}
}
