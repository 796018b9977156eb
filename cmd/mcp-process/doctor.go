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
	if *asJSON {
		out := map[string]any{"features": feats}
		if layers != nil {
			out["layers"] = layers
			out["configEnforceable"] = true
			out["warnings"] = append([]string{}, warnings...)
		}
		if tree != nil {
			out["treeExecutables"] = tree
		}
		if cfgErr != nil {
			out["configEnforceable"] = false
			out["configError"] = cfgErr.Error()
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "FEATURE\tAVAILABLE\tDETAIL")
		for _, ft := range feats {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", ft.Name, yesNo(ft.Available), ft.Detail)
		}
		tw.Flush()
		if layers != nil {
			fmt.Fprintln(stdout, "\nconfig: every layer it asks for can be enforced by this build on this host")
			for _, w := range warnings {
				fmt.Fprintln(stdout, "warning:", w)
			}
			fmt.Fprintln(stdout, "executable scope: "+layers["executable-scope"])
			for _, tf := range tree {
				fmt.Fprintf(stdout, "  %s  (%s)\n", tf.Path, tf.Why)
			}
		}
	}
	if cfgErr != nil {
		return cfgErr
	}
	return nil
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
