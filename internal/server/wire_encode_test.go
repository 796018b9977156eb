package server

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// sdkEncode is v as the SDK's server encodes a result (its jsonMarshal:
// an encoder that does not escape HTML, without the trailing newline).
func sdkEncode(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// The results that carry output (statusResult) go to the SDK as structs;
// on the wire they are the bytes of the general path (the result's JSON
// with "status":"success" first, as a json.RawMessage and as text),
// whatever the output holds: quotes, HTML characters, line separators,
// control bytes, replaced invalid UTF-8, base64.
func TestSuccessResultStructSameBytes(t *testing.T) {
	nasty := []byte("\"quoted\" <b>&amp;</b> \u2028\u2029 \x00\x01\x1f\t\r\n back\\slash \xff\xfe é 😀")
	code := 3
	out := supervisor.OutputResult{Stdout: nasty, Stderr: []byte("err\n"), StdoutBytes: 1 << 40, StderrBytes: 4,
		Offset: supervisor.StreamCounts{Stdout: 5, Stderr: 0}, NextOffset: supervisor.StreamCounts{Stdout: 9, Stderr: 4}}
	run := supervisor.RunResult{Status: supervisor.Status{Pid: 42, Name: "<n>", Args: []string{"a&b"}, ExitCode: &code},
		Stdout: nasty, Truncated: true, DurationMs: 7}
	for name, v := range map[string]statusResult{
		"output utf8":   newOutputResult(&out, encodingText),
		"output base64": newOutputResult(&out, encodingBase64),
		"output pty":    newOutputResult(&supervisor.OutputResult{Pty: true}, encodingText),
		"run":           newRunResult(&run),
		"run empty":     newRunResult(&supervisor.RunResult{}),
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		obj := append([]byte(`{"status":"success",`), b[1:]...)
		want := &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(obj)}}, StructuredContent: json.RawMessage(obj)}
		got := successResult(v)
		if _, raw := got.StructuredContent.(json.RawMessage); raw {
			t.Errorf("%s: structuredContent is a json.RawMessage, want the struct", name)
		}
		if g, w := sdkEncode(t, got), sdkEncode(t, want); !bytes.Equal(g, w) {
			t.Errorf("%s: the SDK would send\n%s\nwant\n%s", name, g, w)
		}
		if g, w := textOf(got), string(obj); g != w {
			t.Errorf("%s: text %s, want %s", name, g, w)
		}
	}
}

// encodeLine writes what jsonrpc.EncodeMessage writes, and a newline, for
// every message: its own path (an answer with a number for its id) and the
// others.
func TestEncodeLineAsEncodeMessage(t *testing.T) {
	id := func(v any) jsonrpc.ID {
		i, err := jsonrpc.MakeID(v)
		if err != nil {
			t.Fatal(err)
		}
		return i
	}
	result := sdkEncode(t, map[string]any{"text": "<b>&</b> \u2028 \"q\" \n", "n": 1, "l": []any{nil, true}})
	for name, msg := range map[string]jsonrpc.Message{
		"number id":          &jsonrpc.Response{ID: id(float64(7)), Result: result},
		"large id":           &jsonrpc.Response{ID: id(float64(1 << 52)), Result: result},
		"negative id":        &jsonrpc.Response{ID: id(float64(-3)), Result: json.RawMessage(`{}`)},
		"string id":          &jsonrpc.Response{ID: id("<a>&\u2028"), Result: result},
		"error":              &jsonrpc.Response{ID: id(float64(8)), Error: &jsonrpc.Error{Code: -32602, Message: "bad <params>"}},
		"error and result":   &jsonrpc.Response{ID: id(float64(8)), Result: result, Error: &jsonrpc.Error{Code: 1, Message: "x"}},
		"no result":          &jsonrpc.Response{ID: id(float64(9))},
		"request":            &jsonrpc.Request{ID: id(float64(10)), Method: "ping", Params: json.RawMessage(`{}`)},
		"notification":       &jsonrpc.Request{Method: "notifications/message", Params: result},
		"array result":       &jsonrpc.Response{ID: id(float64(11)), Result: json.RawMessage(`[1,2]`)},
		"null result":        &jsonrpc.Response{ID: id(float64(12)), Result: json.RawMessage(`null`)},
		"string result <&>":  &jsonrpc.Response{ID: id(float64(13)), Result: json.RawMessage(`"<&>"`)},
		"zero id, as number": &jsonrpc.Response{ID: id(float64(0)), Result: result},
		"indented result":    &jsonrpc.Response{ID: id(float64(14)), Result: json.RawMessage("{\n \"a\": 1\n}")},
	} {
		want, err := jsonrpc.EncodeMessage(msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := encodeLine(msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Count(got, []byte("\n")) != 1 || got[len(got)-1] != '\n' {
			t.Errorf("%s: not one line: %q", name, got)
		}
		if string(got) != string(want)+"\n" {
			t.Errorf("%s: encodeLine\n%s\nwant\n%s", name, got, want)
		}
	}
}

// asText's fast path for valid text gives what its general path gives.
func TestAsTextAsToValidUTF8(t *testing.T) {
	for _, s := range []string{"", "plain\n", "é 😀 \u2028", "\xff", "a\xffb\xfe\xfdc", "\xed\xa0\x80 surrogate", "cut \xe2\x82"} {
		if got, want := asText([]byte(s)), strings.ToValidUTF8(s, "\uFFFD"); got != want {
			t.Errorf("asText(%q) = %q, want %q", s, got, want)
		}
	}
}
