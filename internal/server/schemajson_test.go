package server

import (
	"bytes"
	stdjson "encoding/json"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mcp-process/mcp-process/internal/config"
)

// Every schema the server freezes (each tool's input schema, each output
// schema with and without its $id) is byte for byte what the library's
// own encoding makes of it: what tools/list sends, and the $id's hash, are
// unchanged by appendSchema.
func TestAppendSchemaMatchesLibrary(t *testing.T) {
	outputs := map[string]bool{}
	n := 0
	frozenSchemaHook = func(tool string, schema any, encoded []byte) {
		n++
		lib, err := stdjson.Marshal(schema)
		if err != nil {
			t.Errorf("%s: library marshal: %v", tool, err)
			return
		}
		if !bytes.Equal(lib, encoded) {
			t.Errorf("%s: frozen schema differs from the library's encoding\n got %s\nwant %s", tool, encoded, lib)
		}
		js, ok := schema.(*jsonschema.Schema)
		if !ok {
			return
		}
		if js.ID != "" {
			outputs[tool] = true
		}
		// Every node is written by appendSchema itself: a keyword it
		// does not know sends a schema back through the library's
		// reflection, which is what it is there to avoid.
		eachSchema(js, func(n *jsonschema.Schema) {
			if !fastEncodable(n) {
				b, _ := stdjson.Marshal(n)
				t.Errorf("%s: appendSchema hands this node to the library: %.300s", tool, b)
			}
		})
	}
	defer func() { frozenSchemaHook = nil }()
	s := New(Options{Config: config.Defaults(), AgentID: "t", Layers: map[string]string{}})
	if len(s.Tools()) < 16 || len(outputs) < 16 || n < len(s.Tools())+2*len(outputs) {
		t.Fatalf("saw %d schemas, %d output schemas, of %d tools", n, len(outputs), len(s.Tools()))
	}
}

// Keywords and shapes our tools do not use today: either written as the
// library writes them, or handed to the library.
func TestAppendSchemaEdgeCases(t *testing.T) {
	min, max, minLen := 0.5, 1e21, 3
	cases := map[string]*jsonschema.Schema{
		"empty":         {},
		"empty props":   {Type: "object", Properties: map[string]*jsonschema.Schema{}},
		"nil property":  {Type: "object", Properties: map[string]*jsonschema.Schema{"a": nil}},
		"union":         {Types: []string{"null", "string"}},
		"empty union":   {Types: []string{}},
		"both types":    {Type: "string", Types: []string{"null"}},
		"html, unicode": {Description: "<a> & \u2028 \xff é", Enum: []any{"<x>", 1.5, true, nil}},
		"quoting":       {Description: "tab\t nl\n \"q\" back\\ del\x7f ~ plain", Required: []string{"a b", "<", "\x01"}},
		"numbers":       {Minimum: &min, Maximum: &max, MinLength: &minLen},
		"default":       {Default: stdjson.RawMessage(` {"a" : [1, "<"]} `)},
		"order": {Type: "object", PropertyOrder: []string{"z", "missing", "a"},
			Properties: map[string]*jsonschema.Schema{"a": {}, "m": {Type: "string"}, "z": {Type: "integer"}, "b": {}}},
		"no order":        {Type: "object", Properties: map[string]*jsonschema.Schema{"f": {}, "e": {}, "d": {}, "c": {}, "b": {}, "a": {}}},
		"false":           {Not: &jsonschema.Schema{}},
		"not":             {Not: &jsonschema.Schema{Type: "string"}},
		"false and more":  {Type: "object", Not: &jsonschema.Schema{}, AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}},
		"min items":       {Type: "array", MinItems: &minLen, Items: &jsonschema.Schema{Type: "string"}},
		"duplicate order": {Properties: map[string]*jsonschema.Schema{"a": {}}, PropertyOrder: []string{"a", "a"}},
		"fallback":        {Type: "string", Pattern: "^a+$", Title: "t", Properties: map[string]*jsonschema.Schema{"x": {Format: "uri"}}},
		"nested fallback": {Type: "object", Properties: map[string]*jsonschema.Schema{"x": {Not: &jsonschema.Schema{Title: "t"}}}},
		"items, additional, oneOf": {Type: "array", Items: &jsonschema.Schema{Type: "object", AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}},
			OneOf: []*jsonschema.Schema{{Type: "string"}, {}}, Required: []string{"a", "b"}, ID: "urn:x"},
	}
	for name, s := range cases {
		lib, libErr := stdjson.Marshal(s)
		got, err := appendSchema(nil, s)
		if (err != nil) != (libErr != nil) {
			t.Errorf("%s: error %v, library's %v", name, err, libErr)
			continue
		}
		if err == nil && !bytes.Equal(got, lib) {
			t.Errorf("%s:\n got %s\nwant %s", name, got, lib)
		}
	}
}
