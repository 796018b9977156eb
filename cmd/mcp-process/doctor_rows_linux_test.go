//go:build linux

package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// Doctor's rows are the registry's (each the row of the layer it says the
// host can enforce) and the server's own: a row no entry claims, or a
// claimed row doctor does not print, fails here, as does a row
// docs/doctor.md does not describe.
func TestDoctorRowsAreTheRegistrys(t *testing.T) {
	var got []string
	for _, f := range hostFeatures() {
		if slices.Contains(got, f.Name) {
			t.Errorf("row %q printed twice", f.Name)
		}
		got = append(got, f.Name)
	}
	got = append(got, rowsAfterHost...)
	want := append(layer.DoctorRows(), serverRows...)
	if g, w := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want)); !slices.Equal(g, w) {
		t.Errorf("doctor prints the rows %v; the registry's and the server's are %v", g, w)
	}
	// docs/doctor.md's table: each row with the layer that claims it.
	doc, err := os.ReadFile("../../docs/doctor.md")
	if err != nil {
		t.Fatal(err)
	}
	owner := map[string]string{}
	for _, in := range layer.All() {
		for _, r := range in.Doctor {
			owner[r] = "`" + string(in.Layer) + "`"
		}
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
