//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// doctorProbes is doctor's probe set on this host.
func doctorProbes(t *testing.T) probeSet {
	t.Helper()
	cg, err := detectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cg.Close() })
	return probesFor(cg)
}

// Doctor's rows are the registry's (each the row of the layer it says the
// host can enforce) and the server's own: a row no entry claims, or a
// claimed row doctor does not print, fails here, as does a row
// docs/doctor.md does not describe.
func TestDoctorRowsAreTheRegistrys(t *testing.T) {
	var got []string
	owner := map[string]string{}
	for _, in := range layer.All() {
		for _, r := range in.Doctor {
			owner[r] = string(in.Layer)
		}
	}
	for _, f := range doctorRows(doctorProbes(t)) {
		if slices.Contains(got, f.Name) {
			t.Errorf("row %q printed twice", f.Name)
		}
		if f.Layer != owner[f.Name] {
			t.Errorf("row %q printed with the layer %q; the registry: %q", f.Name, f.Layer, owner[f.Name])
		}
		got = append(got, f.Name)
	}
	want := append(layer.DoctorRows(), serverRows...)
	if g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
		t.Errorf("doctor prints the rows %v; the registry's and the server's are %v", g, w)
	}
	// docs/doctor.md's table: each row with the layer that claims it.
	doc, err := os.ReadFile("../../docs/doctor.md")
	if err != nil {
		t.Fatal(err)
	}
	for r, l := range owner {
		owner[r] = "`" + l + "`"
	}
	for _, r := range serverRows {
		owner[r] = "(the server itself)"
	}
	documented := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| `") || len(cells) < 4 {
			continue
		}
		for _, name := range strings.Split(strings.TrimPrefix(cells[0], "| "), ", ") {
			name = strings.Trim(name, "`")
			if strings.HasPrefix(name, ":") {
				name = "namespace" + name // `namespace:user`, `:pid`, ...
			}
			documented[name] = true
			if owner[name] != cells[1] {
				t.Errorf("docs/doctor.md gives the row %s the layer %s; the registry: %q", name, cells[1], owner[name])
			}
		}
	}
	for _, r := range want {
		if !documented[r] {
			t.Errorf("docs/doctor.md does not describe the row %s", r)
		}
	}
}

// Every probe a layer's registry entry names (and every server row)
// exists in doctor's probe set, and every probe of the set is some row's:
// a misspelt or removed probe fails here, not as a "no probe" row.
func TestDoctorProbesExist(t *testing.T) {
	set := doctorProbes(t)
	claimed := map[string]bool{}
	for _, in := range layer.All() {
		for _, name := range in.Doctor {
			claimed[name] = true
			if set[name] == nil {
				t.Errorf("layer %s names the doctor probe %q, which does not exist", in.Layer, name)
			}
		}
	}
	for _, name := range serverRows {
		claimed[name] = true
		if set[name] == nil {
			t.Errorf("server row %q has no probe", name)
		}
	}
	for name := range set {
		if !claimed[name] {
			t.Errorf("probe %q is no layer's row (add it to a registry entry's Doctor)", name)
		}
	}
	// hostfeat's probes and the ones answered above it do not shadow
	// each other.
	for _, p := range hostfeat.Probes() {
		if slices.Contains(aboveKernel, p.Name) {
			t.Errorf("probe %q is both hostfeat's and answered above it", p.Name)
		}
	}
	if n := len(hostfeat.Probes()) + len(aboveKernel) + 2; len(set) != n {
		t.Errorf("the probe set has %d probes, want %d (hostfeat's, aboveKernel, cgroup-choice, tree kill)", len(set), n)
	}
}

// Each row doctor prints is its probe's result, unchanged: with a probe
// set of known answers, and on this host through `doctor --json`.
func TestDoctorPrintsTheProbes(t *testing.T) {
	fake := probeSet{}
	for i, name := range append(layer.DoctorRows(), serverRows...) {
		r := hostfeat.Result{Available: i%2 == 0, Detail: "answer of " + name}
		fake[name] = func() hostfeat.Result { return r }
	}
	for _, f := range doctorRows(fake) {
		if want := fake[f.Name](); f.Available != want.Available || f.Detail != want.Detail {
			t.Errorf("row %s: %v %q, the probe said %v %q", f.Name, f.Available, f.Detail, want.Available, want.Detail)
		}
	}

	var out bytes.Buffer
	if err := cmdDoctor([]string{"--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Features []feature }
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	printed := map[string]feature{}
	for _, f := range doc.Features {
		printed[f.Name] = f
	}
	probes := hostfeat.Probes()
	for name, run := range aboveKernelProbes() {
		probes = append(probes, hostfeat.Probe{Name: name, Run: run})
	}
	for _, p := range probes {
		f, ok := printed[p.Name]
		if !ok {
			t.Errorf("doctor --json does not print the probe %s", p.Name)
			continue
		}
		if r := p.Run(); f.Available != r.Available || f.Detail != r.Detail {
			t.Errorf("doctor prints %s as %v %q; the probe says %v %q", p.Name, f.Available, f.Detail, r.Available, r.Detail)
		}
	}
}
