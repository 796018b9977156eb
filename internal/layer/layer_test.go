package layer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The enforcement layers are the SPEC's: one or more per section of SPEC 3
// (Isolation and Advanced are several), plus the tree kill of SPEC 7.1,
// under the names users see in process_get_policy and doctor.
func TestRegistryListsTheSpecsLayers(t *testing.T) {
	want := []struct {
		l       Layer
		section string
	}{
		{"executables", "3.1"}, {"arguments", "3.2"}, {"environment", "3.3"}, {"working-directory", "3.4"},
		{"resource-limits", "3.5"}, {"process-limits", "3.6"}, {"rate-limits", "3.7"}, {"termination", "3.8"},
		{"io", "3.9"}, {"namespaces", "3.10"}, {"chroot", "3.10"}, {"seccomp", "3.10"}, {"network", "3.11"},
		{"audit", "3.12"}, {"approval", "3.13"}, {"time-windows", "3.14"}, {"mac", "3.15"},
		{"capabilities", "3.15"}, {"filesystem", "3.15"}, {"landlock", "3.15"},
		{"tree-kill-on-server-death", "7.1"},
	}
	got := Of(Enforced)
	if len(got) != len(want) {
		t.Fatalf("%d enforcement layers, want %d: %v", len(got), len(want), got)
	}
	sections := map[string]bool{}
	for i, w := range want {
		if got[i].Layer != w.l || got[i].Section != w.section {
			t.Errorf("layer %d = %s (SPEC %s), want %s (SPEC %s)", i, got[i].Layer, got[i].Section, w.l, w.section)
		}
		sections[got[i].Section] = true
	}
	for i := 1; i <= 15; i++ {
		if s := "3." + strconv.Itoa(i); !sections[s] {
			t.Errorf("SPEC section %s has no layer", s)
		}
	}
}

func TestRegistryEntries(t *testing.T) {
	seen := map[Layer]bool{}
	for _, in := range All() {
		if seen[in.Layer] {
			t.Errorf("%s registered twice", in.Layer)
		}
		seen[in.Layer] = true
		if in.Layer == "" || strings.ToLower(string(in.Layer)) != string(in.Layer) || strings.ContainsAny(string(in.Layer), " _") {
			t.Errorf("name %q is not a lower-case, hyphenated name", in.Layer)
		}
		switch in.Kind {
		case Enforced:
			if in.Optional && (len(in.Keys) == 0 || in.Off == "") {
				t.Errorf("optional layer %s has no keys or no off text", in.Layer)
			}
		case Mechanism:
			if in.Of != "" {
				if of, ok := Lookup(string(in.Of)); !ok || of.Kind != Enforced {
					t.Errorf("mechanism %s is part of %s, not an enforcement layer", in.Layer, in.Of)
				}
			}
		case Origin:
			if in.Section != "" || len(in.Keys) > 0 || in.Optional {
				t.Errorf("origin %s has a section, keys or a switch", in.Layer)
			}
		default:
			t.Errorf("%s has no kind", in.Layer)
		}
		if !Built(in.Layer) {
			t.Errorf("%s is not built", in.Layer)
		}
	}
	if Registered("executable") || Built("executable") || Registered("time-window") {
		t.Error("a renamed layer is still registered")
	}
	if got := ForKey("writablePaths"); !slices.Equal(got, []Layer{Filesystem, Landlock}) {
		t.Errorf("ForKey(writablePaths) = %v", got)
	}
	if got := ForKey("allowedExecutables"); got != nil {
		t.Errorf("ForKey(allowedExecutables) = %v, want none (not an optional layer's key)", got)
	}
	want := []string{"init-stage", "exec-by-fd", "process-group", "pdeathsig", "built-environment", "no-core-dumps", "no-new-privs", "capabilities"}
	if got := Baseline(); !slices.Equal(got, want) {
		t.Errorf("Baseline() = %v, want %v (a launch's sandbox field)", got, want)
	}
}

// Every entry says what it is in one line (a new layer cannot be
// registered without its description), says which keys turn it on exactly
// when the report can say it is off, and claims its init-stage steps
// alone.
func TestRegistryDescribesEveryEntry(t *testing.T) {
	steps := map[string]Layer{}
	for _, in := range All() {
		if in.Summary == "" || strings.ContainsAny(in.Summary, "\n") || strings.HasSuffix(in.Summary, ".") {
			t.Errorf("%s: summary %q is not one line without a final period", in.Layer, in.Summary)
		}
		if got, want := Describe(in.Layer), string(in.Layer)+" ("+in.Summary+")"; got != want {
			t.Errorf("Describe(%s) = %q, want %q", in.Layer, got, want)
		}
		if (in.Off != "") != (len(in.On) > 0) {
			t.Errorf("%s: off text %q but on keys %v: a layer that can be off needs both", in.Layer, in.Off, in.On)
		}
		for _, k := range in.On {
			if !slices.Contains(in.Keys, k) {
				t.Errorf("%s: on key %s is not one of its keys %v", in.Layer, k, in.Keys)
			}
		}
		for _, st := range in.Steps {
			if other, ok := steps[st]; ok {
				t.Errorf("step %q claimed by %s and %s", st, other, in.Layer)
			}
			steps[st] = in.Layer
			if l, ok := ForStep(st); !ok || l != in.Layer {
				t.Errorf("ForStep(%q) = %s, %v; want %s", st, l, ok, in.Layer)
			}
		}
	}
	rows := map[string]bool{}
	for _, r := range DoctorRows() {
		if rows[r] {
			t.Errorf("doctor row %q claimed twice", r)
		}
		rows[r] = true
	}
	if l, ok := ForStep("no-such-step"); ok {
		t.Errorf("ForStep(no-such-step) = %s", l)
	}
	if got := Describe("no-such-layer"); got != "no-such-layer" {
		t.Errorf("Describe of an unregistered name = %q", got)
	}
}

// docs/mcp.md lists every origin an error's layer may name besides the
// enforcement layers: a new origin cannot be added without it.
func TestDocsListEveryOrigin(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "mcp.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(b), "where a failure no layer decided comes from:")
	if !ok {
		t.Fatal("docs/mcp.md no longer lists the origins (\"where a failure no layer decided comes from:\")")
	}
	list, _, _ = strings.Cut(list, ";")
	for _, in := range Of(Origin) {
		if !strings.Contains(list, "`"+string(in.Layer)+"`") {
			t.Errorf("docs/mcp.md's list of origins lacks %s (%s)", in.Layer, in.Summary)
		}
	}
}

type fakeHost struct {
	set     map[string]bool
	unbuilt map[Layer]bool
	state   map[Layer]string
}

func (h fakeHost) Set(key string) bool { return h.set[key] }
func (h fakeHost) Built(l Layer) bool  { return !h.unbuilt[l] }
func (h fakeHost) State(l Layer) (string, bool) {
	s, ok := h.state[l]
	return s, ok
}

func TestReport(t *testing.T) {
	h := fakeHost{
		set:     map[string]bool{"enableSeccomp": true, "enableAuditLog": true, "blockedTimeWindows": false, "namespaces": true},
		unbuilt: map[Layer]bool{MAC: true},
		state:   map[Layer]string{ResourceLimits: "cgroup v2"},
	}
	m := Report(h)
	var names []string
	for _, in := range Of(Enforced) {
		names = append(names, string(in.Layer))
	}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, slices.Sorted(slices.Values(names))) {
		t.Fatalf("report keys %v, want every enforcement layer %v", got, names)
	}
	for l, want := range map[Layer]string{
		Executables:    "enforced",
		ResourceLimits: "cgroup v2",
		Seccomp:        "enforced",
		Chroot:         "off (enableChroot)",
		MAC:            "not built in this version (enableMAC refused)",
		Audit:          "enforced",
		TimeWindows:    "off (no windows configured)",
		Approval:       "off (requireConfirmation*)",
		Namespaces:     "off (enableNamespaces)", // namespaces configures them; enableNamespaces turns them on
	} {
		if m[string(l)] != want {
			t.Errorf("report[%s] = %q, want %q", l, m[string(l)], want)
		}
	}
}

// Every layer value in the code is a registered name: no string literal
// (nor a constant declared as one) where an error, an audit record or a
// config error takes its layer, no conversion that mints a Layer outside
// this package, and every constant this package declares is registered.
func TestEveryLayerInTheCodeIsRegistered(t *testing.T) {
	consts := declaredConsts(t, ".")
	for name, v := range consts {
		if ast.IsExported(name) && !Registered(Layer(v)) {
			t.Errorf("layer.%s = %q is not registered", name, v)
		}
	}
	root := filepath.Join("..", "..")
	var files int
	for _, dir := range []string{"internal", "cmd"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" || path == filepath.Join(root, "internal", "layer") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			files++
			checkFile(t, path, consts)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files < 50 {
		t.Fatalf("scanned only %d files", files)
	}
}

// declaredConsts returns the string constants declared with a literal in
// the package in dir (name → value).
func declaredConsts(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(dir, e.Name()), nil, 0)
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
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							out[n.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}
	return out
}

const layerPath = "github.com/mcp-process/mcp-process/internal/layer"

// layerish says whether a constant's name says it is a layer name: layer,
// Layer, or layerX/LayerX (layerTreeKill, LayerExecutable).
func layerish(name string) bool {
	for _, p := range []string{"layer", "Layer"} {
		if name == p {
			return true
		}
		if rest, ok := strings.CutPrefix(name, p); ok && rest != "" && rest[0] >= 'A' && rest[0] <= 'Z' {
			return true
		}
	}
	return false
}

// isLayerType says whether a declared type is Layer or pkg.Layer.
func isLayerType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "Layer"
	case *ast.SelectorExpr:
		return x.Sel.Name == "Layer"
	}
	return false
}

// dirConsts caches declaredConsts per directory.
var dirConsts = map[string]map[string]string{}

func checkFile(t *testing.T, path string, registryConsts map[string]string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	pkgConsts, ok := dirConsts[dir]
	if !ok {
		pkgConsts = declaredConsts(t, dir)
		dirConsts[dir] = pkgConsts
	}
	layerName := "" // the file's name for package layer
	for _, imp := range f.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == layerPath {
			layerName = "layer"
			if imp.Name != nil {
				layerName = imp.Name.Name
			}
		}
	}
	inErrcode := f.Name.Name == "errcode"
	bad := func(n ast.Node, format string, a ...any) {
		t.Errorf("%s: "+format, append([]any{fset.Position(n.Pos())}, a...)...)
	}
	// checkValue refuses a literal, or a constant of this package declared
	// as a literal, where a layer goes.
	checkValue := func(e ast.Expr, where string) {
		switch v := e.(type) {
		case *ast.BasicLit:
			if v.Kind == token.STRING {
				bad(v, "%s is the string literal %s: use a name of package layer", where, v.Value)
			}
		case *ast.Ident:
			if s, ok := pkgConsts[v.Name]; ok {
				bad(v, "%s is the constant %s = %q: declare it from package layer", where, v.Name, s)
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.GenDecl:
			if x.Tok != token.CONST {
				return true
			}
			for _, s := range x.Specs {
				vs := s.(*ast.ValueSpec)
				if vs.Type != nil && !isLayerType(vs.Type) {
					continue // errcode.LayerUnavailable is a Code
				}
				for i, name := range vs.Names {
					if i < len(vs.Values) && layerish(name.Name) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							bad(name, "constant %s = %s names a layer by a literal: use a name of package layer", name.Name, lit.Value)
						}
					}
				}
			}
		case *ast.CallExpr:
			switch fn := x.Fun.(type) {
			case *ast.SelectorExpr:
				if id, ok := fn.X.(*ast.Ident); ok {
					if id.Name == "errcode" && (fn.Sel.Name == "Fail" || fn.Sel.Name == "Deny") && len(x.Args) > 1 {
						checkValue(x.Args[1], "the layer of errcode."+fn.Sel.Name)
					}
					if layerName != "" && id.Name == layerName && fn.Sel.Name == "Layer" {
						bad(x, "a conversion to layer.Layer mints a name outside the registry")
					}
				}
			case *ast.Ident:
				if inErrcode && (fn.Name == "Fail" || fn.Name == "Deny") && len(x.Args) > 1 {
					checkValue(x.Args[1], "the layer of "+fn.Name)
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := x.Key.(*ast.Ident); ok && k.Name == "Layer" {
				checkValue(x.Value, "a Layer field")
			}
		case *ast.SelectorExpr:
			if id, ok := x.X.(*ast.Ident); ok && layerName != "" && id.Name == layerName && ast.IsExported(x.Sel.Name) {
				if _, isConst := registryConsts[x.Sel.Name]; !isConst && !slices.Contains(exportedNonConsts, x.Sel.Name) {
					bad(x, "layer.%s is not a registered name", x.Sel.Name)
				}
			}
		}
		return true
	})
}

// exportedNonConsts are the package's exported names other than the
// registered constants.
var exportedNonConsts = []string{"Layer", "Kind", "Enforced", "Mechanism", "Origin", "Info", "All", "Of", "Lookup",
	"Registered", "Built", "ForKey", "ForStep", "Describe", "OptionalKeys", "OnKeys", "DoctorRows", "Baseline", "Host", "On", "Report"}
