package server

import (
	stdjson "encoding/json"
	"reflect"
	"slices"

	"github.com/google/jsonschema-go/jsonschema"
)

// appendSchema appends the JSON encoding of s, byte for byte what
// encoding/json makes of it (jsonschema.Schema.MarshalJSON), for the
// keywords our tools' schemas use; any node with another keyword, or with
// a combination the library refuses, is encoded by the library itself.
//
// Why: the library marshals every node by reflection over its whole
// struct (~70 fields), and encoding/json copies and re-scans each nested
// node's bytes once per level above it. That was the largest part of
// registering the tools (their schemas encoded once, frozenSchema), itself
// the largest part of the server's start-up before it reads its first
// request. Plain ASCII strings are quoted here; other scalars and lists
// of scalars still go through encoding/json, so strings are escaped
// (HTML-safe) and numbers formatted exactly as it does.
// TestAppendSchemaMatchesLibrary checks every tool's schemas, and that
// none of their nodes is handed to the library.
func appendSchema(b []byte, s *jsonschema.Schema) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	if !fastEncodable(s) {
		lib, err := stdjson.Marshal(s)
		return append(b, lib...), err
	}
	start := len(b)
	b = append(b, '{')
	var err error
	if s.Type != "" {
		b = appendMember(b, start, "type", s.Type)
	} else if s.Types != nil {
		b = appendMember(b, start, "type", s.Types)
	}
	if s.Properties != nil {
		b = appendKey(b, start, "properties")
		if b, err = appendProperties(b, s.Properties, s.PropertyOrder); err != nil {
			return b, err
		}
	}
	if s.Items != nil {
		b = appendKey(b, start, "items")
		if b, err = appendSchema(b, s.Items); err != nil {
			return b, err
		}
	}
	if s.ID != "" {
		b = appendMember(b, start, "$id", s.ID)
	}
	if s.Description != "" {
		b = appendMember(b, start, "description", s.Description)
	}
	if len(s.Default) > 0 {
		b = appendMember(b, start, "default", s.Default)
	}
	if len(s.Enum) > 0 {
		b = appendMember(b, start, "enum", s.Enum)
	}
	if s.Minimum != nil {
		b = appendMember(b, start, "minimum", *s.Minimum)
	}
	if s.Maximum != nil {
		b = appendMember(b, start, "maximum", *s.Maximum)
	}
	if s.MinLength != nil {
		b = appendMember(b, start, "minLength", *s.MinLength)
	}
	if s.MinItems != nil {
		b = appendMember(b, start, "minItems", *s.MinItems)
	}
	if len(s.Required) > 0 {
		b = appendMember(b, start, "required", s.Required)
	}
	if s.AdditionalProperties != nil {
		b = appendKey(b, start, "additionalProperties")
		if b, err = appendSchema(b, s.AdditionalProperties); err != nil {
			return b, err
		}
	}
	if len(s.OneOf) > 0 {
		b = appendKey(b, start, "oneOf")
		if b, err = appendSchemaList(b, s.OneOf); err != nil {
			return b, err
		}
	}
	if s.Not != nil {
		b = appendKey(b, start, "not")
		if b, err = appendSchema(b, s.Not); err != nil {
			return b, err
		}
	}
	// The library writes the empty schema as true and {"not": true}
	// (additionalProperties: false, as inferred) as false.
	switch string(b[start:]) {
	case "{":
		return append(b[:start], "true"...), nil
	case `{"not":true`:
		return append(b[:start], "false"...), nil
	}
	return append(b, '}'), nil
}

// fastEncodable reports whether appendSchema writes s itself: s sets no
// keyword but those it writes, and nothing the library would refuse.
func fastEncodable(s *jsonschema.Schema) bool {
	if s.Type != "" && s.Types != nil {
		return false
	}
	for i, k := range s.PropertyOrder {
		if slices.Contains(s.PropertyOrder[:i], k) {
			return false
		}
	}
	rest := *s
	rest.Type, rest.Types, rest.Properties, rest.PropertyOrder, rest.Items = "", nil, nil, nil, nil
	rest.ID, rest.Description, rest.Default, rest.Enum = "", "", nil, nil
	rest.Minimum, rest.Maximum, rest.MinLength, rest.MinItems, rest.Required = nil, nil, nil, nil, nil
	rest.AdditionalProperties, rest.OneOf, rest.Not = nil, nil, nil
	return reflect.ValueOf(rest).IsZero()
}

// appendProperties writes a properties object as the library does: the
// names of order first, in that order, then the others sorted.
func appendProperties(b []byte, props map[string]*jsonschema.Schema, order []string) ([]byte, error) {
	names := make([]string, 0, len(props))
	for _, n := range order {
		if _, ok := props[n]; ok {
			names = append(names, n)
		}
	}
	first := len(names)
	for n := range props {
		if !slices.Contains(order, n) {
			names = append(names, n)
		}
	}
	slices.Sort(names[first:])
	b = append(b, '{')
	var err error
	for i, n := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSON(b, n)
		b = append(b, ':')
		if b, err = appendSchema(b, props[n]); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

func appendSchemaList(b []byte, list []*jsonschema.Schema) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendSchema(b, s); err != nil {
			return b, err
		}
	}
	return append(b, ']'), nil
}

// appendKey writes "key": after the object's '{' at start or a comma.
func appendKey(b []byte, start int, key string) []byte {
	if len(b) > start+1 {
		b = append(b, ',')
	}
	b = appendJSON(b, key)
	return append(b, ':')
}

func appendMember(b []byte, start int, key string, v any) []byte {
	return appendJSON(appendKey(b, start, key), v)
}

// appendJSON appends encoding/json's encoding of a scalar, a list of
// scalars or raw JSON (which cannot fail for what appendSchema hands it:
// strings, numbers, enum values and defaults that came from JSON). A
// string of printable ASCII that encoding/json would not escape (no '"',
// '\\', '<', '>', '&') is quoted here: the same bytes.
func appendJSON(b []byte, v any) []byte {
	if s, ok := v.(string); ok && plainString(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	enc, err := stdjson.Marshal(v)
	if err != nil {
		panic("schema keyword does not encode: " + err.Error())
	}
	return append(b, enc...)
}

// plainString reports whether encoding/json writes s as is between quotes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
