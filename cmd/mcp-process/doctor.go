package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// feature is one kernel feature as doctor reports it.
type feature struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Detail    string `json:"detail"`
}

// Doctor's rows are the registry's (layer.DoctorRows: each says whether
// this host can enforce a layer) and serverRows; hostFeatures probes all
// but rowsAfterHost, which cmdDoctor adds from the cgroup manager.
var (
	// serverRows belong to no layer: the server's own protection.
	serverRows = []string{"server-non-dumpable"}
	// rowsAfterHost are the rows cmdDoctor adds after hostFeatures.
	rowsAfterHost = []string{"cgroup-choice", layer.TreeKill.String()}
)

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
	feats := hostFeatures()
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	defer cg.Close()
	feats = append(feats, cgroupChoice(cg))
	th, ok := cg.TreeHold()
	feats = append(feats, feature{layer.TreeKill.String(), ok, th})
	var cfgErr error
	var layers map[string]string
	var warnings []string
	var tree []policy.TreeFile // the tree scope's exec-able files
	if f.config != "" || f.profile != "" {
		loaded, pol, err := loadPolicy(f)
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
	fmt.Fprintln(tw, "FEATURE\tAVAILABLE\tDETAIL")
	for _, ft := range r.feats {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", ft.Name, yesNo(ft.Available), ft.Detail)
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

// cgroupChoice reports the cgroup layout the server would use here.
func cgroupChoice(cg *cgroup.Manager) feature {
	cs := cg.Support()
	return feature{"cgroup-choice", cs.Version != "none", cs.Version + ": " + resourceLimitsState(cg)}
}
