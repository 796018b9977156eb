package config

import (
	stdjson "encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

func schemaMap(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := stdjson.Unmarshal(Schema(), &m); err != nil {
		t.Fatalf("Schema() is not JSON: %v", err)
	}
	return m
}

// TestSchemaMatchesDecoder walks the Config type and the schema together:
// every JSON field is a schema property and vice versa, at every level, and
// every object is closed.
func TestSchemaMatchesDecoder(t *testing.T) {
	root := schemaMap(t)
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", root["$schema"])
	}
	var walk func(path string, typ reflect.Type, s map[string]any)
	walk = func(path string, typ reflect.Type, s map[string]any) {
		if s["type"] != "object" || s["additionalProperties"] != false {
			t.Errorf("%s: type %v additionalProperties %v, want a closed object", path, s["type"], s["additionalProperties"])
		}
		props, _ := s["properties"].(map[string]any)
		fields := jsonNames(typ)
		if typ == reflect.TypeFor[Config]() {
			fields = append(fields, AnnotationKeys...)
		}
		var propNames []string
		for p := range props {
			propNames = append(propNames, p)
		}
		sort.Strings(propNames)
		sorted := slices.Clone(fields)
		sort.Strings(sorted)
		if !slices.Equal(sorted, propNames) {
			t.Errorf("%s: decoder fields %v, schema properties %v", path, sorted, propNames)
		}
		for _, name := range fields {
			f, isField := fieldByJSONName(typ, name)
			p, ok := props[name].(map[string]any)
			if !ok {
				continue
			}
			if !isField { // an annotation key: a string, ignored
				if p["type"] != "string" || p["description"] == "" {
					t.Errorf("%s.%s: schema %v, want a described string", path, name, p)
				}
				continue
			}
			if d, _ := p["description"].(string); d == "" {
				t.Errorf("%s.%s has no description", path, name)
			}
			if f.Type == reflect.TypeFor[Account]() {
				if _, ok := p["oneOf"]; !ok {
					t.Errorf("%s.%s: an account is a name or a number, schema %v", path, name, p)
				}
				continue
			}
			want := map[reflect.Kind]string{reflect.Bool: "boolean", reflect.String: "string", reflect.Int: "integer",
				reflect.Int64: "integer", reflect.Float64: "number", reflect.Slice: "array", reflect.Struct: "object"}[f.Type.Kind()]
			if p["type"] != want {
				t.Errorf("%s.%s: schema type %v, Go type %v", path, name, p["type"], f.Type)
			}
			if want == "integer" || want == "number" {
				if _, ok := p["minimum"]; !ok {
					t.Errorf("%s.%s: no minimum", path, name)
				}
			}
			switch f.Type.Kind() {
			case reflect.Struct:
				walk(path+"."+name, f.Type, p)
			case reflect.Slice:
				items, _ := p["items"].(map[string]any)
				if f.Type.Elem().Kind() == reflect.Struct {
					walk(path+"."+name+"[]", f.Type.Elem(), items)
				} else if items["type"] != "string" {
					t.Errorf("%s.%s: items %v", path, name, items)
				}
			}
		}
	}
	walk("config", reflect.TypeFor[Config](), root)
}

func resolvedSchema(t *testing.T) *jsonschema.Resolved {
	t.Helper()
	var s jsonschema.Schema
	if err := stdjson.Unmarshal(Schema(), &s); err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve(&jsonschema.ResolveOptions{ValidateDefaults: true})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return r
}

func instance(t *testing.T, doc []byte) any {
	t.Helper()
	var v any
	if err := stdjson.Unmarshal(doc, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSchemaAgreesWithDecoder: documents the decoder accepts validate against
// the schema, and documents the decoder refuses fail it.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	r := resolvedSchema(t)
	for name, d := range profileDocs {
		if err := r.Validate(instance(t, []byte(d))); err != nil {
			t.Errorf("profile %s does not validate: %v", name, err)
		}
	}
	annotated := `{"$schema": "./mcp-process.schema.json", "$comment": "c", "description": "d", "allowedExecutables": ["node"]}`
	if err := r.Validate(instance(t, []byte(annotated))); err != nil {
		t.Errorf("the annotation keys do not validate: %v", err)
	}
	if _, err := Decode([]byte(annotated), defaults(testEnv())); err != nil {
		t.Errorf("the decoder refuses the annotation keys: %v", err)
	}
	for _, c := range []*Config{validConfig(), defaults(testEnv("HOME", "/h"))} {
		c.Agents = []Agent{{ID: "a", TokenSha256: strings.Repeat("0", 64)}}
		b, err := stdjson.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Validate(instance(t, b)); err != nil {
			t.Errorf("a full config does not validate: %v\n%s", err, b)
		}
		if _, err := Decode(b, defaults(testEnv())); err != nil {
			t.Errorf("the decoder refuses a marshalled config: %v", err)
		}
	}
	for _, bad := range []string{
		`{"ALLOWEDEXECUTABLES":[]}`,
		`{"namespaces":{"cgroup":true}}`,
		`{"defaultResourceLimits":{"maxThreads":1}}`,
		`{"agents":[{"id":"a","tokenSha256":"` + strings.Repeat("0", 64) + `","x":1}]}`,
		`{"agents":[{"id":"a"}]}`,
		`{"seccompProfile":"paranoid"}`,
		`{"auditLogLevel":"trace"}`,
		`{"maxConcurrentProcesses":-1}`,
		`{"maxProcessLifetime":0}`,
		`{"blockShellInterpreters":"yes"}`,
		`{"allowedExecutables":"node"}`,
	} {
		if err := r.Validate(instance(t, []byte(bad))); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
	}
	// Both refuse an annotation key of the wrong type, spelling or place.
	for _, bad := range []string{
		`{"$schema":1}`,
		`{"description":["a"]}`,
		`{"Description":"d"}`,
		`{"$id":"x"}`,
		`{"namespaces":{"description":"d"}}`,
		`{"agents":[{"id":"a","tokenSha256":"` + strings.Repeat("0", 64) + `","$comment":"c"}]}`,
	} {
		if err := r.Validate(instance(t, []byte(bad))); err == nil {
			t.Errorf("schema accepts %s", bad)
		}
		if _, err := Decode([]byte(bad), defaults(testEnv())); err == nil {
			t.Errorf("the decoder accepts %s", bad)
		}
	}
}

// TestDocsCoverEveryKey: docs/configuration.md documents every key.
func TestDocsCoverEveryKey(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatalf("docs/configuration.md: %v", err)
	}
	docs := string(b)
	var keys []string
	keys = append(keys, jsonNames(reflect.TypeFor[Config]())...)
	keys = append(keys, jsonNames(reflect.TypeFor[ResourceLimits]())...)
	for _, n := range jsonNames(reflect.TypeFor[Namespaces]()) {
		keys = append(keys, "namespaces."+n)
	}
	keys = append(keys, "tokenSha256")
	for _, k := range keys {
		if !strings.Contains(docs, "`"+k+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", k)
		}
	}
	for _, k := range UnavailableLayerKeys() {
		if !strings.Contains(docs, "`"+k+"`") {
			t.Errorf("docs/configuration.md does not mention refused key `%s`", k)
		}
	}
}

// TestDocsExampleLoads: the example in docs/configuration.md is a valid config.
func TestDocsExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```json\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no json example in docs/configuration.md")
	}
	if _, err := Load(LoadOptions{Cwd: "/srv/start", ReadFile: noFiles, Getenv: testEnv("HOME", "/h", EnvConfigJSON, example)}); err != nil {
		t.Errorf("the docs example does not load: %v", err)
	}
}
