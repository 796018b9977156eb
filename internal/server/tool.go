package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	stdjson "encoding/json"
	"fmt"
	"reflect"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// errorResult is the error JSON of a failed call, carried as text content
// only (SPEC 2 and 7.3): our error{code,layer,message,remedy} plus the
// original server's flat status, code, message and remediation beside it.
type errorResult struct {
	Status      string         `json:"status"` // always "error"
	Code        errcode.Code   `json:"code"`
	Message     string         `json:"message"`
	Remediation string         `json:"remediation,omitempty"`
	Error       *errcode.Error `json:"error"`
}

// statusSuccess is the "status" of every successful result.
const statusSuccess = "success"

// handlerFunc is a typed tool handler: it returns the result or an
// *errcode.Error (any other error becomes INTERNAL).
type handlerFunc[In, Out any] func(ctx context.Context, call *call, in In) (Out, error)

// schemaTweak adjusts an inferred input schema (enums, minimums, defaults).
type schemaTweak func(s *jsonschema.Schema)

// addTool registers a tool whose input and output schemas come from the Go
// types In and Out, so schema, validation and docs cannot drift apart.
//
// Every client reads every result (SPEC 7.3): a success is Out's JSON with
// "status":"success" added, as structuredContent and as text, and conforms
// to the output schema (Out's schema with the status property); a failure
// is isError with the error JSON (errorResult) as text content and no
// structuredContent, which clients that validate structuredContent
// against the output schema (the TypeScript SDK) would otherwise reject,
// hiding the refusal. The input schema has no ["null", T] type unions
// (the inference adds them for slices, maps and pointers) and always a
// "properties" object.
func addTool[In, Out any](s *Server, t *mcp.Tool, h handlerFunc[In, Out], tweaks ...schemaTweak) {
	in, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", t.Name, err))
	}
	for _, tw := range tweaks {
		tw(in)
	}
	dropNullUnions(in)
	resolved, err := in.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: resolve input schema: %v", t.Name, err))
	}
	t.InputSchema = frozenSchema(t.Name, withProperties(t.Name, in))
	if outType := reflect.TypeFor[Out](); outType != reflect.TypeFor[struct{}]() {
		// A handler returning *T answers with a T (never null): the
		// schema is T's, whose type is "object" as MCP requires.
		if outType.Kind() == reflect.Pointer {
			outType = outType.Elem()
		}
		out, err := jsonschema.ForType(outType, nil)
		if err != nil {
			panic(fmt.Sprintf("tool %s: output schema: %v", t.Name, err))
		}
		addStatus(t.Name, out)
		t.OutputSchema = frozenSchema(t.Name, withID(t.Name, out))
	}
	s.tools = append(s.tools, t.Name)
	if s.decoders == nil {
		s.decoders = map[string]func([]byte) error{}
	}
	s.decoders[t.Name] = func(raw []byte) error {
		_, e := decodeInput[In](resolved, raw)
		if e != nil {
			return e
		}
		return nil
	}
	s.mcp.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := s.newCall(req, t.Name)
		input, e := decodeInput[In](resolved, []byte(req.Params.Arguments))
		if e != nil {
			return s.fail(c, e), nil
		}
		out, err := h(ctx, c, input)
		if ir, ok := err.(*inputRequired); ok { // approval: a multi-round-trip question
			return ir.res, nil
		}
		if err != nil {
			return s.fail(c, errcode.As(err)), nil
		}
		return successResult(out), nil
	})
}

// decodeInput decodes a tool's arguments: a JSON object (absent or null:
// {}) valid against the tool's input schema, decoded strictly (unknown
// members refused) into In. Any failure is INVALID_INPUT.
func decodeInput[In any](resolved *jsonschema.Resolved, raw []byte) (In, *errcode.Error) {
	var input In
	if len(raw) == 0 || string(raw) == "null" {
		raw = []byte("{}")
	}
	var generic any
	if err := stdjson.Unmarshal(raw, &generic); err != nil {
		return input, errcode.Fail(errcode.InvalidInput, layer.Input, "send a JSON object of arguments", "arguments are not valid JSON: %v", err)
	}
	if err := resolved.Validate(generic); err != nil {
		return input, errcode.Fail(errcode.InvalidInput, layer.Input, "fix the arguments to match the tool's input schema", "invalid arguments: %v", err)
	}
	if err := json.Unmarshal(raw, &input, json.RejectUnknownMembers(true)); err != nil {
		return input, errcode.Fail(errcode.InvalidInput, layer.Input, "fix the arguments to match the tool's input schema", "invalid arguments: %v", err)
	}
	return input, nil
}

// frozenSchema is a tool's schema encoded once, at registration: every
// tools/list sends these bytes instead of encoding the schema objects again
// (a jsonschema.Schema marshals by reflection, property by property, which
// was most of the server's work for a tools/list). Input validation uses the
// resolved schema, not this encoding. A *jsonschema.Schema is encoded by
// appendSchema (the library's bytes, without its reflection).
func frozenSchema(tool string, schema any) stdjson.RawMessage {
	var b []byte
	var err error
	if js, ok := schema.(*jsonschema.Schema); ok {
		b, err = appendSchema(nil, js)
	} else {
		b, err = stdjson.Marshal(schema)
	}
	if err != nil {
		panic(fmt.Sprintf("tool %s: marshal schema: %v", tool, err))
	}
	if h := frozenSchemaHook; h != nil {
		h(tool, schema, b)
	}
	return b
}

// frozenSchemaHook, when set (by tests only, before New), sees every
// schema frozenSchema encodes and its bytes.
var frozenSchemaHook func(tool string, schema any, encoded []byte)

// withID gives an output schema an "$id" naming the tool and the schema's
// content (a hash: another version of the schema is another $id). Clients
// that compile output schemas cache them by $id (the TypeScript SDK's AJV
// validator does), so a client listing the tools again, as it does on
// notifications/tools/list_changed, does not compile them again. The
// schema has no "$ref", so its base URI changes nothing else.
func withID(tool string, out *jsonschema.Schema) *jsonschema.Schema {
	if out.ID != "" {
		panic(fmt.Sprintf("tool %s: output schema already has an $id", tool))
	}
	sum := sha256.Sum256(frozenSchema(tool, out))
	out.ID = "urn:mcp-process:tool:" + tool + ":output:" + hex.EncodeToString(sum[:8])
	return out
}

// successResult carries v, with "status":"success" added, as
// structuredContent and as JSON text content, for clients that read only
// text. v must marshal to a JSON object.
//
// The SDK encodes the result with encoding/json, which scans and copies
// whatever a json.Marshaler (a json.RawMessage too) writes; a result that
// carries a process's output (statusResult) is handed over as a struct
// instead, which the encoder writes in one pass: the same bytes, one scan
// of the output fewer.
func successResult(v any) *mcp.CallToolResult {
	if sr, ok := v.(statusResult); ok {
		wire := sr.withStatus()
		b, err := stdjson.Marshal(wire)
		if err != nil {
			return errorToolResult(errcode.Fail(errcode.Internal, layer.Server, "report this as a bug", "marshal result: %v", err))
		}
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}, StructuredContent: wire}
	}
	b, err := stdjson.Marshal(v)
	if err != nil {
		return errorToolResult(errcode.Fail(errcode.Internal, layer.Server, "report this as a bug", "marshal result: %v", err))
	}
	if len(b) < 2 || b[0] != '{' {
		return errorToolResult(errcode.Fail(errcode.Internal, layer.Server, "report this as a bug", "result is not a JSON object: %.100s", b))
	}
	obj := make([]byte, 0, len(b)+len(`{"status":"`+statusSuccess+`",`))
	obj = append(obj, `{"status":"`+statusSuccess+`"`...)
	if string(b) != "{}" {
		obj = append(obj, ',')
	}
	obj = append(obj, b[1:]...)
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(obj)}},
		StructuredContent: stdjson.RawMessage(obj),
	}
}

// statusResult is a result that carries a process's output: withStatus is
// it with "status":"success" first, a struct that is no json.Marshaler
// and marshals to the bytes successResult's general path would make.
type statusResult interface{ withStatus() any }

// errorToolResult is the isError result of e: its error JSON as text
// content, no structuredContent (it would not match the output schema).
func errorToolResult(e *errcode.Error) *mcp.CallToolResult {
	b, err := stdjson.Marshal(errorResult{Status: "error", Code: e.Code, Message: e.Message, Remediation: e.Remedy, Error: e})
	if err != nil { // cannot happen: errorResult holds strings and ints only
		b = []byte(`{"status":"error","code":"INTERNAL","message":"marshal error result","error":{"code":"INTERNAL","layer":"server","message":"marshal error result"}}`)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}, IsError: true}
}

// addStatus adds the required "status":"success" property to an output
// schema, first in order.
func addStatus(tool string, out *jsonschema.Schema) {
	if out.Type != "object" {
		panic(fmt.Sprintf("tool %s: output schema type %q, want object", tool, out.Type))
	}
	if _, ok := out.Properties["status"]; ok {
		panic(fmt.Sprintf("tool %s: output already has a status property", tool))
	}
	if out.Properties == nil {
		out.Properties = map[string]*jsonschema.Schema{}
	}
	out.Properties["status"] = &jsonschema.Schema{Type: "string", Enum: []any{statusSuccess},
		Description: `"success" (a failed call is isError, with its error JSON as text)`}
	out.Required = append([]string{"status"}, out.Required...)
	if out.PropertyOrder != nil {
		out.PropertyOrder = append([]string{"status"}, out.PropertyOrder...)
	}
}

// dropNullUnions replaces every ["null", T] type union in s and its
// subschemas by T: an omitted member already means "not given", and some
// clients cannot handle type arrays in input schemas.
func dropNullUnions(s *jsonschema.Schema) {
	eachSchema(s, func(s *jsonschema.Schema) {
		if len(s.Types) == 0 {
			return
		}
		types := slices.DeleteFunc(slices.Clone(s.Types), func(t string) bool { return t == "null" })
		switch len(types) {
		case 0:
		case 1:
			s.Type, s.Types = types[0], nil
		default:
			s.Types = types
		}
	})
}

// eachSchema calls f on s and every schema nested in it.
func eachSchema(s *jsonschema.Schema, f func(*jsonschema.Schema)) {
	if s == nil {
		return
	}
	f(s)
	v := reflect.ValueOf(s).Elem()
	for i := range v.NumField() {
		if !v.Field(i).CanInterface() {
			continue
		}
		switch fv := v.Field(i).Interface().(type) {
		case *jsonschema.Schema:
			eachSchema(fv, f)
		case []*jsonschema.Schema:
			for _, c := range fv {
				eachSchema(c, f)
			}
		case map[string]*jsonschema.Schema:
			for _, c := range fv {
				eachSchema(c, f)
			}
		}
	}
}

// withProperties returns the input schema as sent to clients: in, with an
// empty "properties" object when the tool takes no arguments (some clients
// require the member).
func withProperties(tool string, in *jsonschema.Schema) any {
	if len(in.Properties) > 0 {
		return in
	}
	b, err := stdjson.Marshal(in)
	if err != nil {
		panic(fmt.Sprintf("tool %s: marshal input schema: %v", tool, err))
	}
	var m map[string]any
	if err := stdjson.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", tool, err))
	}
	m["properties"] = map[string]any{}
	return m
}

// Schema tweaks.

func prop(s *jsonschema.Schema, path ...string) *jsonschema.Schema {
	for _, p := range path {
		next, ok := s.Properties[p]
		if !ok {
			panic("schema has no property " + p)
		}
		s = next
	}
	return s
}

func enum(values ...any) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Enum = values }
}

func minimum(v float64) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Minimum = &v }
}

// defaultValue documents the default of an omitted argument.
func defaultValue(v any) func(*jsonschema.Schema) {
	b, err := stdjson.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("schema default %v: %v", v, err))
	}
	return func(s *jsonschema.Schema) { s.Default = b }
}

func at(f func(*jsonschema.Schema), path ...string) schemaTweak {
	return func(s *jsonschema.Schema) { f(prop(s, path...)) }
}
