package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	json "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// Explicit is the set of keys a configuration document set, as key paths:
// top-level keys ("maxConcurrentProcesses") and the members of the objects
// that merge per key ("defaultResourceLimits.maxMemoryMB", "namespaces.pid").
type Explicit map[string]bool

// mergedObjects are the keys whose objects merge per member when a document
// is laid over a base (SPEC 6); every other key replaces the base's value.
var mergedObjects = map[string]bool{
	"defaultResourceLimits": true,
	"maximumResourceLimits": true,
	"namespaces":            true,
}

// Decode lays the JSON document data over base and returns the keys it set.
// Decoding is strict: the document must be one JSON object; unknown members
// (at any depth, matched case-sensitively, so "ALLOWEDEXECUTABLES" is
// unknown), duplicate members, null values, mistyped or out-of-range values
// and trailing data are refused with an *Error naming the key. Arrays in the
// document replace the base's; the objects defaultResourceLimits,
// maximumResourceLimits and namespaces merge per member. On error base is
// left unchanged.
func Decode(data []byte, base *Config) (Explicit, error) {
	explicit, err := scan(data)
	if err != nil {
		return nil, err
	}
	doc := document{plainConfig: plainConfig(*base.Clone())}
	if err := json.Unmarshal(data, &doc, json.RejectUnknownMembers(true)); err != nil {
		return nil, decodeError(err)
	}
	*base = Config(doc.plainConfig)
	for _, k := range AnnotationKeys {
		delete(explicit, k)
	}
	return explicit, nil
}

// AnnotationKeys are the top-level keys a configuration document may carry
// for editors and readers ("$schema" points an editor at `mcp-process
// schema`; the original server's example files carry all three). They must
// be strings and are otherwise ignored: they are not part of the policy.
var AnnotationKeys = []string{"$schema", "$comment", "description"}

// document is what Decode reads: the policy and the annotation keys.
type document struct {
	Schema      string `json:"$schema"`
	Comment     string `json:"$comment"`
	Description string `json:"description"`
	plainConfig `json:",inline"`
}

// plainConfig is Config without its MarshalJSON (an inlined field must have
// no marshal methods).
type plainConfig Config

// scan checks the document's syntax (one object, no duplicate names, no
// trailing data, valid UTF-8), refuses null values and collects the keys set.
func scan(data []byte) (Explicit, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, invalid("", "write a JSON object, e.g. {\"allowedExecutables\": [\"node\"]}", "the configuration is empty")
	}
	dec := jsontext.NewDecoder(bytes.NewReader(data))
	explicit := Explicit{}
	first := true
	for {
		tok, err := dec.ReadToken()
		if err == io.EOF {
			return explicit, nil
		}
		if err != nil {
			return nil, syntaxError(err, data)
		}
		kind := tok.Kind()
		if first {
			first = false
			if kind != '{' {
				return nil, invalid("", "the configuration must be a JSON object {...}", "the document is a JSON %s, not an object", kindName(kind))
			}
			continue
		}
		depth := dec.StackDepth()
		if k, n := dec.StackIndex(depth); k == '{' && n%2 == 1 {
			continue // an object member name; its value comes next
		}
		if kind == '}' || kind == ']' {
			continue
		}
		ptr := string(dec.StackPointer())
		key := pointerKey(ptr)
		if kind == 'n' {
			return nil, invalid(key, "remove the key to use its default, or give it a value of the right type ("+"`mcp-process schema` lists them)", "null is not a valid value")
		}
		segs := pointerSegments(ptr)
		switch {
		case len(segs) == 1:
			explicit[key] = true
		case len(segs) == 2 && mergedObjects[segs[0]]:
			explicit[key] = true
		}
	}
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}

func syntaxError(err error, data []byte) *Error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		key := pointerKey(string(se.JSONPointer))
		if errors.Is(se.Err, jsontext.ErrDuplicateName) {
			return invalid(key, "keep exactly one occurrence of the key", "the key is set more than once (at JSON pointer %q)", string(se.JSONPointer))
		}
		at := lineCol(data, se.ByteOffset)
		if errors.Is(se.Err, io.ErrUnexpectedEOF) {
			return invalid(key, "complete the JSON document (a bracket or quote is missing)", "the JSON document ends too early (%s)", at)
		}
		msg := "invalid JSON"
		if se.Err != nil {
			msg += ": " + se.Err.Error()
		}
		return invalid(key, "fix the JSON syntax at "+at, "%s (%s)", msg, at)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("", "complete the JSON document (a bracket or quote is missing)", "the JSON document ends too early")
	}
	return invalid("", "fix the JSON syntax", "invalid JSON: %v", err)
}

func decodeError(err error) *Error {
	var sem *json.SemanticError
	if errors.As(err, &sem) {
		ptr := string(sem.JSONPointer)
		key := pointerKey(ptr)
		if sem.Err != nil && strings.Contains(sem.Err.Error(), "unknown object member") {
			segs := pointerSegments(ptr)
			name := ""
			if len(segs) > 0 {
				name = segs[len(segs)-1]
			}
			remedy := "remove it or correct its spelling (key names are case-sensitive; `mcp-process schema` lists every key)"
			if s := suggest(segs); s != "" {
				remedy = fmt.Sprintf("did you mean %q? Key names are case-sensitive", s)
			}
			return invalid(key, remedy, "unknown key %q (at JSON pointer %q)", name, ptr)
		}
		want := "a valid value"
		if sem.GoType != nil {
			want = jsonTypeName(sem.GoType)
		}
		msg := fmt.Sprintf("wrong type or value: expected %s", want)
		if sem.JSONKind != 0 {
			msg += ", got a JSON " + kindName(sem.JSONKind)
		}
		if len(sem.JSONValue) > 0 && sem.JSONKind == '0' {
			msg += " " + string(sem.JSONValue)
		}
		if sem.Err != nil {
			msg += " (" + sem.Err.Error() + ")"
		}
		return invalid(key, "give the key "+want+" (`mcp-process schema` describes every key)", "%s", msg)
	}
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return syntaxError(err, nil)
	}
	return invalid("", "fix the configuration", "cannot decode: %v", err)
}

// lineCol names a byte offset of data as "line L, column C" (both from 1,
// columns in bytes), and as the byte offset too; without data, the offset
// alone.
func lineCol(data []byte, off int64) string {
	if data == nil || off < 0 || off > int64(len(data)) {
		return "byte offset " + strconv.FormatInt(off, 10)
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("line %d, column %d, byte offset %d", line, col, off)
}

// jsonTypeName describes the JSON shape expected for a Go type.
func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array of objects"
	case reflect.Struct:
		return "an object"
	}
	return "a value of the documented type"
}

// suggest returns the known key that equals the last segment of segs
// case-insensitively, or "".
func suggest(segs []string) string {
	if len(segs) == 0 {
		return ""
	}
	t := reflect.TypeFor[Config]()
	for _, s := range segs[:len(segs)-1] {
		if _, err := strconv.Atoi(s); err == nil && t.Kind() == reflect.Slice {
			t = t.Elem()
			continue
		}
		f, ok := fieldByJSONName(t, s)
		if !ok {
			return ""
		}
		t = f.Type
	}
	if t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	last := segs[len(segs)-1]
	names := jsonNames(t)
	for _, name := range names {
		if strings.EqualFold(name, last) {
			return name
		}
	}
	// Else the closest name by edit distance, when it is close enough to
	// be a typo: at most 2 edits, or a quarter of the name.
	best, bestD := "", max(2, len(last)/4)+1
	for _, name := range names {
		if d := editDistance(strings.ToLower(name), strings.ToLower(last)); d < bestD {
			best, bestD = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// jsonNames lists the JSON member names of a struct type, in field order.
func jsonNames(t reflect.Type) []string {
	var names []string
	for i := range t.NumField() {
		if n := jsonName(t.Field(i)); n != "" {
			names = append(names, n)
		}
	}
	return names
}

func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name
}

func fieldByJSONName(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		if jsonName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

// pointerSegments splits an RFC 6901 JSON pointer into unescaped segments.
func pointerSegments(ptr string) []string {
	if ptr == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(ptr, "/"), "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts
}

// pointerKey renders a JSON pointer as a key path: "/agents/1/id" becomes
// "agents[1].id", "/namespaces/pid" becomes "namespaces.pid".
func pointerKey(ptr string) string {
	var b strings.Builder
	for i, s := range pointerSegments(ptr) {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}
