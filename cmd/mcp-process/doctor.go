package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// feature is one row of doctor: a probe's result, with the layer whose
// registry entry names the probe ("" for serverRows).
type feature struct {
	Name      string `json:"name"`
	Layer     string `json:"layer,omitempty"`
	Available bool   `json:"available"`
	Detail    string `json:"detail"`
}

// Doctor's rows are the probes that the layer registry names (each entry's
// Doctor, in registry order), then serverRows; each row is its probe's
// result from the probe set (probesFor).
var (
	// serverRows belong to no layer: the server's own protection.
	serverRows = []string{"server-non-dumpable"}
	// aboveKernel are the probes answered above hostfeat, by the package
	// that knows the answer (aboveKernelProbes, per OS): seccomp on this
	// build's architecture, the executable scope Landlock makes the
	// default, the sandbox's id mapping and its nf_tables capture (probed
	// in a child), the server's non-dumpable state.
	aboveKernel = []string{"seccomp", "executable-scope-tree", "user-namespace-mapping", "network-transparent-capture", "server-non-dumpable"}
)

// probeSet maps each probe's name (a row) to the probe.
type probeSet map[string]func() hostfeat.Result

// probesFor returns doctor's probe set: every probe of hostfeat, those
// answered above it (aboveKernel), and the two that cg answers: the cgroup
// layout it chose and what holds a tree when the server dies.
func probesFor(cg *cgroup.Manager) probeSet {
	set := probeSet{}
	for _, p := range hostfeat.Probes() {
		set[p.Name] = p.Run
	}
	for n, f := range aboveKernelProbes() {
		set[n] = f
	}
	set["cgroup-choice"] = func() hostfeat.Result {
		cs := cg.Support()
		return hostfeat.Result{Available: cs.Version != "none", Detail: cs.Version + ": " + resourceLimitsState(cg)}
	}
	set[layer.TreeKill.String()] = func() hostfeat.Result {
		how, ok := cg.TreeHold()
		return hostfeat.Result{Available: ok, Detail: how}
	}
	return set
}

// doctorRows runs the probes the registry names, layer by layer in
// registry order, then serverRows: one row per probe, what it found. A
// name without a probe (a bug TestDoctorProbesExist catches) is a row
// that says so.
func doctorRows(set probeSet) []feature {
	var rows []feature
	row := func(name, l string) {
		f := feature{Name: name, Layer: l, Detail: "no probe named " + name + " in this build"}
		if probe, ok := set[name]; ok {
			r := probe()
			f.Available, f.Detail = r.Available, r.Detail
		}
		rows = append(rows, f)
	}
	for _, in := range layer.All() {
		for _, name := range in.Doctor {
			row(name, string(in.Layer))
		}
	}
	for _, name := range serverRows {
		row(name, "")
	}
	return rows
}

// cmdDoctor reports which kernel features this host has and, with a
// config, whether every layer it asks for can be enforced (exit 0/2).
func cmdDoctor(args []string, stdout io.Writer) error {
	fs := newFlagSet("doctor")
	var f commonFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "machine-readable output")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	defer cg.Close()
	feats := doctorRows(probesFor(cg))
	var cfgErr error
	var layers map[string]string
	var warnings []string
	var tree []policy.TreeFile // the tree scope's exec-able files
	if f.config != "" || f.profile != "" {
		loaded, pol, err := loadPolicy(f)
		if err == nil {
			// Where the policy's files lie refuses serve and run (SPEC 7.1a).
			iso, _ := isolationOf(loaded.Config)
			err = placePolicyFiles(loaded.Config, &iso, pol)
		}
		if err != nil {
			cfgErr = err
		} else {
			layers = layerStates(loaded.Config, cg)
			warnings = configWarnings(loaded.Config)
			if loaded.Config.ExecutablePolicyScope == config.ScopeTree {
				tree, _ = pol.TreeFiles() // loadPolicy has built it once already
			}
		}
	}
	r := doctorReport{feats: feats, layers: layers, warnings: warnings, tree: tree, cfgErr: cfgErr}
	if *asJSON {
		if err := r.writeJSON(stdout); err != nil {
			return err
		}
	} else {
		r.writeText(stdout)
	}
	if cfgErr != nil {
		return cfgErr
	}
	return nil
}

// doctorReport is what doctor found: the host's rows and, with a config,
// its layer states, warnings and tree-scope files, or why it cannot run.
type doctorReport struct {
	feats    []feature
	layers   map[string]string
	warnings []string
	tree     []policy.TreeFile
	cfgErr   error
}

// writeJSON writes the report for machines (--json).
func (r doctorReport) writeJSON(w io.Writer) error {
	out := map[string]any{"features": r.feats}
	if r.layers != nil {
		out["layers"] = r.layers
		out["configEnforceable"] = true
		out["warnings"] = append([]string{}, r.warnings...)
	}
	if r.tree != nil {
		out["treeExecutables"] = r.tree
	}
	if r.cfgErr != nil {
		out["configEnforceable"] = false
		out["configError"] = r.cfgErr.Error()
	}
	return writeJSON(w, out)
}

// writeText writes the report as a table, then the config's verdict.
func (r doctorReport) writeText(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEATURE\tLAYER\tAVAILABLE\tDETAIL")
	for _, ft := range r.feats {
		l := ft.Layer
		if l == "" {
			l = "(the server itself)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ft.Name, l, yesNo(ft.Available), ft.Detail)
	}
	tw.Flush()
	if r.layers == nil {
		return
	}
	fmt.Fprintln(w, "\nconfig: every layer it asks for can be enforced by this build on this host")
	for _, x := range r.warnings {
		fmt.Fprintln(w, "warning:", x)
	}
	fmt.Fprintln(w, "executable scope: "+r.layers["executable-scope"])
	for _, tf := range r.tree {
		fmt.Fprintf(w, "  %s  (%s)\n", tf.Path, tf.Why)
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
