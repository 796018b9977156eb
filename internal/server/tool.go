package server

import (
	"context"
	stdjson "encoding/json"
	"fmt"
	"reflect"

	"github.com/go-json-experiment/json"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// errorResult is the structured content of a failed call (SPEC section 2).
type errorResult struct {
	Error *errcode.Error `json:"error"`
}

// handlerFunc is a typed tool handler: it returns the result or an
// *errcode.Error (any other error becomes INTERNAL).
type handlerFunc[In, Out any] func(ctx context.Context, call *call, in In) (Out, error)

// schemaTweak adjusts an inferred input schema (enums, minimums, defaults).
type schemaTweak func(s *jsonschema.Schema)

// addTool registers a tool whose input and output schemas come from the Go
// types In and Out, so schema, validation and docs cannot drift apart. Unlike
// mcp.AddTool it returns failures as {"error": {...}} structured content with
// isError, carrying the stable code.
func addTool[In, Out any](s *Server, t *mcp.Tool, h handlerFunc[In, Out], tweaks ...schemaTweak) {
	in, err := jsonschema.For[In](nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", t.Name, err))
	}
	for _, tw := range tweaks {
		tw(in)
	}
	resolved, err := in.Resolve(nil)
	if err != nil {
		panic(fmt.Sprintf("tool %s: resolve input schema: %v", t.Name, err))
	}
	t.InputSchema = in
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
		t.OutputSchema = out
	}
	s.tools = append(s.tools, t.Name)
	s.mcp.AddTool(t, func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c := s.newCall(req, t.Name)
		var input In
		raw := []byte(req.Params.Arguments)
		if len(raw) == 0 || string(raw) == "null" {
			raw = []byte("{}")
		}
		var generic any
		if err := stdjson.Unmarshal(raw, &generic); err != nil {
			return s.fail(c, errcode.Fail(errcode.InvalidInput, "input", "send a JSON object of arguments", "arguments are not valid JSON: %v", err)), nil
		}
		if err := resolved.Validate(generic); err != nil {
			return s.fail(c, errcode.Fail(errcode.InvalidInput, "input", "fix the arguments to match the tool's input schema", "invalid arguments: %v", err)), nil
		}
		if err := json.Unmarshal(raw, &input, json.RejectUnknownMembers(true)); err != nil {
			return s.fail(c, errcode.Fail(errcode.InvalidInput, "input", "fix the arguments to match the tool's input schema", "invalid arguments: %v", err)), nil
		}
		out, err := h(ctx, c, input)
		if err != nil {
			return s.fail(c, errcode.As(err)), nil
		}
		return jsonResult(out, false), nil
	})
}

// jsonResult carries v as structuredContent and as JSON text content, for
// clients that read only text.
func jsonResult(v any, isError bool) *mcp.CallToolResult {
	b, err := stdjson.Marshal(v)
	if err != nil {
		b, _ = stdjson.Marshal(errorResult{Error: errcode.Fail(errcode.Internal, "server", "", "marshal result: %v", err)})
		isError = true
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(b)}},
		StructuredContent: stdjson.RawMessage(b),
		IsError:           isError,
	}
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

func at(f func(*jsonschema.Schema), path ...string) schemaTweak {
	return func(s *jsonschema.Schema) { f(prop(s, path...)) }
}
