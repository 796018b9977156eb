package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/supervisor"
)

func kept(a *answers) int {
	n, _ := a.size()
	return n
}

// nastyOutputs are process outputs that test an encoder: quotes, HTML
// characters, line and paragraph separators, control bytes, invalid UTF-8,
// a forged stand-in, nothing, and 64 KiB of lines.
func nastyOutputs() map[string][]byte {
	var seq bytes.Buffer
	for i := 1048577; seq.Len() < 64<<10; i++ {
		fmt.Fprintf(&seq, "%d\n", i)
	}
	return map[string][]byte{
		"nasty":   []byte("\"quoted\" <b>&amp;</b> \u2028\u2029 \x00\x01\x1f\x7f\t\r\n back\\slash \xff\xfe é 😀 \xed\xa0\x80 cut \xe2\x82"),
		"forged":  []byte(standInPrefix + strings.Repeat("A", tokenLen) + standInSuffix),
		"empty":   nil,
		"invalid": {0xff, 0xfe, 0xfd},
		"seq":     seq.Bytes(),
	}
}

// frames are what the SDK may add to a result (for a client of the
// 2026-07-28 protocol _meta with serverInfo, resultType) and other
// members a result may have besides its content.
var frames = map[string]func(*testing.T, *mcp.CallToolResult) *mcp.CallToolResult{
	"bare": func(_ *testing.T, r *mcp.CallToolResult) *mcp.CallToolResult { return r },
	"2026-07-28": func(t *testing.T, r *mcp.CallToolResult) *mcp.CallToolResult {
		var typed mcp.CallToolResult // resultType is set by the SDK or by decoding
		if err := json.Unmarshal([]byte(`{"content":[],"resultType":"complete"}`), &typed); err != nil {
			t.Fatal(err)
		}
		typed.Content, typed.StructuredContent = r.Content, r.StructuredContent
		typed.SetMeta(map[string]any{mcp.MetaKeyServerInfo: &mcp.Implementation{Name: "mcp-process", Version: "<1&2>"}})
		return &typed
	},
	"odd _meta and isError": func(_ *testing.T, r *mcp.CallToolResult) *mcp.CallToolResult {
		r.SetMeta(map[string]any{"content": nil, `"content":null`: "\u2028 <>", "z": []any{1.5, "\u2028"}})
		r.IsError = true
		return r
	},
}

// The stand-in's bytes, replaced as the stdio connection replaces them,
// are what the SDK sends for the result, and the answer's line is
// EncodeMessage's: for every result that carries output (text, base64,
// pty, process_run's, truncated or not), in every frame.
func TestPreEncodedSameBytes(t *testing.T) {
	id, err := jsonrpc.MakeID(float64(7))
	if err != nil {
		t.Fatal(err)
	}
	code := 3
	for name, b := range nastyOutputs() {
		out := supervisor.OutputResult{Stdout: b, Stderr: []byte("err\n"), StdoutBytes: 1 << 40, StderrBytes: 4,
			Offset: supervisor.StreamCounts{Stdout: 5}, NextOffset: supervisor.StreamCounts{Stdout: 9, Stderr: 4}}
		run := supervisor.RunResult{Status: supervisor.Status{Pid: 42, Name: "<n>", Args: []string{"a&b"}, ExitCode: &code},
			Stdout: b, Stderr: b, Truncated: true, DurationMs: 7}
		for kind, v := range map[string]statusResult{
			"output utf8":   newOutputResult(&out, encodingText),
			"output base64": newOutputResult(&out, encodingBase64),
			"output pty":    newOutputResult(&supervisor.OutputResult{Stdout: b, Pty: true}, encodingText),
			"run":           newRunResult(&run),
			"run whole":     newRunResult(&supervisor.RunResult{Stdout: b}),
		} {
			for frame, f := range frames {
				what := name + " " + kind + " " + frame
				r := f(t, successResult(v))
				sdk := sdkEncode(t, r)
				a := newAnswers()
				standIn := sdkEncode(t, &preEncoded{CallToolResult: r, answers: a})
				if !bytes.HasPrefix(standIn, []byte(standInPrefix)) || kept(a) != 1 {
					t.Fatalf("%s: no stand-in: %.200s (%d kept)", what, standIn, kept(a))
				}
				resolved := a.resolve(&jsonrpc.Response{ID: id, Result: standIn})
				if got := resolved.(*jsonrpc.Response).Result; !bytes.Equal(got, sdk) {
					t.Errorf("%s: pre-encoded\n%.300s\nthe SDK's\n%.300s", what, got, sdk)
				}
				if kept(a) != 0 {
					t.Errorf("%s: %d results kept after the write", what, kept(a))
				}
				line, err := encodeLine(resolved)
				want, err2 := jsonrpc.EncodeMessage(&jsonrpc.Response{ID: id, Result: sdk})
				if err != nil || err2 != nil || string(line) != string(want)+"\n" {
					t.Errorf("%s: line %.300s (%v), want %.300s (%v)", what, line, err, want, err2)
				}
			}
		}
	}
}

// A result of another shape, or encoded a second time, or on a closed
// connection, is the SDK's encoding, with nothing kept.
func TestPreEncodedFallback(t *testing.T) {
	plain := func() *mcp.CallToolResult {
		return successResult(newOutputResult(&supervisor.OutputResult{Stdout: []byte("<x>\n")}, encodingText))
	}
	closed := newAnswers()
	closed.close()
	for name, tc := range map[string]struct {
		r *mcp.CallToolResult
		a *answers
	}{
		"two blocks": {func() *mcp.CallToolResult { r := plain(); r.Content = append(r.Content, r.Content[0]); return r }(), newAnswers()},
		"annotated": {func() *mcp.CallToolResult {
			r := plain()
			r.Content[0].(*mcp.TextContent).Meta = mcp.Meta{"a": 1}
			return r
		}(), newAnswers()},
		"raw structure": {successResult(map[string]any{"pid": 1}), newAnswers()},
		"closed":        {plain(), closed},
	} {
		p := &preEncoded{CallToolResult: tc.r, answers: tc.a}
		if got, want := sdkEncode(t, p), sdkEncode(t, tc.r); !bytes.Equal(got, want) {
			t.Errorf("%s: %s, want the SDK's %s", name, got, want)
		}
		if kept(tc.a) != 0 {
			t.Errorf("%s: %d results kept", name, kept(tc.a))
		}
	}
	a := newAnswers()
	p := &preEncoded{CallToolResult: plain(), answers: a}
	first, second := sdkEncode(t, p), sdkEncode(t, p)
	if !bytes.HasPrefix(first, []byte(standInPrefix)) || !bytes.Equal(second, sdkEncode(t, plain())) || kept(a) != 1 {
		t.Errorf("encoded twice: %s then %s, %d kept; want one stand-in, then the SDK's", first, second, kept(a))
	}
}

// Only a result that is exactly a stand-in with a live token is replaced:
// not one inside output, not one with a token the connection does not
// hold, not an error answer.
func TestStandInNotForgeable(t *testing.T) {
	a := newAnswers()
	live := a.put([]byte(`{"replaced":true}`))
	id, _ := jsonrpc.MakeID(float64(1))
	inOutput := sdkEncode(t, successResult(newOutputResult(&supervisor.OutputResult{Stdout: live}, encodingText)))
	other := []byte(standInPrefix + strings.Repeat("A", tokenLen) + standInSuffix)
	for name, msg := range map[string]*jsonrpc.Response{
		"in output":     {ID: id, Result: inOutput},
		"unknown token": {ID: id, Result: other},
		"padded":        {ID: id, Result: append([]byte(" "), live...)},
		"error answer":  {ID: id, Result: live, Error: &jsonrpc.Error{Code: 1, Message: "x"}},
	} {
		if got := a.resolve(msg); got != jsonrpc.Message(msg) {
			t.Errorf("%s: replaced", name)
		}
	}
	if kept(a) != 1 {
		t.Errorf("%d kept, want the live one", kept(a))
	}
}

// Without a stdio session's answers in its context (in memory, HTTP) and
// for other methods, the middleware hands on the result itself.
func TestPreEncodeOnlyOnStdio(t *testing.T) {
	r := successResult(newOutputResult(&supervisor.OutputResult{Stdout: []byte("x")}, encodingText))
	next := func(context.Context, string, mcp.Request) (mcp.Result, error) { return r, nil }
	stdio := context.WithValue(context.Background(), answersKey{}, newAnswers())
	for name, tc := range map[string]struct {
		ctx     context.Context
		method  string
		wrapped bool
	}{
		"no answers":    {context.Background(), "tools/call", false},
		"other method":  {stdio, "resources/read", false},
		"stdio session": {stdio, "tools/call", true},
	} {
		got, err := preEncode(next)(tc.ctx, tc.method, nil)
		if _, wrapped := got.(*preEncoded); err != nil || wrapped != tc.wrapped || (!wrapped && got != mcp.Result(r)) {
			t.Errorf("%s: %T %v, want wrapped %v", name, got, err, tc.wrapped)
		}
	}
}

// printfScript is a sh script writing b exactly (printf's octal escapes).
func printfScript(b []byte) string {
	var s strings.Builder
	s.WriteString("printf '")
	for _, c := range b {
		fmt.Fprintf(&s, "\\%03o", c)
	}
	s.WriteString("'")
	return s.String()
}

// rawAnswer sends a request on a stdio session and returns its answer's
// result as sent, checking that no line carries a stand-in.
func rawAnswer(t *testing.T, ss *stdioSession, id int, method, params string) []byte {
	t.Helper()
	ss.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	for {
		select {
		case line := <-ss.lines:
			if strings.Contains(line, standInPrefix) {
				t.Fatalf("a stand-in on the wire: %.300s", line)
			}
			var m struct {
				ID     *int
				Result json.RawMessage
			}
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("%v: %.300s", err, line)
			}
			if m.ID != nil && *m.ID == id {
				return m.Result
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no answer within 10 s", method)
		}
	}
}

// sdkBytes checks that result (as sent) is what the SDK sends for a
// result whose one text block is its structuredContent's JSON, with the
// same other members, and returns the text.
func sdkBytes(t *testing.T, name string, result []byte) string {
	t.Helper()
	var r mcp.CallToolResult
	if err := json.Unmarshal(result, &r); err != nil || len(r.Content) != 1 {
		t.Fatalf("%s: %v: %.300s", name, err, result)
	}
	text := r.Content[0].(*mcp.TextContent).Text
	r.StructuredContent = json.RawMessage(text)
	if want := sdkEncode(t, &r); !bytes.Equal(result, want) {
		t.Errorf("%s: sent\n%.300s\nthe SDK sends\n%.300s", name, result, want)
	}
	return text
}

// Over stdio, results that carry output are sent as the SDK would send
// them, output containing a stand-in comes back as written, and no result
// stays kept after many calls, cancelled ones among them.
func TestStdioPreEncodedAnswers(t *testing.T) {
	cfg := testConfig(t)
	cfg.BlockShellInterpreters, cfg.BlockInjectionPatterns = false, false
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, "/bin/sh", "/usr/bin/sh")
	a := newAnswers()
	ss := startStdioAnswers(t, newTestServer(t, cfg, &memRecorder{}), a)
	rawAnswer(t, ss, 1, "initialize", `{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}`)
	ss.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	id, pid := 1, 0
	for name, b := range nastyOutputs() {
		script := printfScript(b)
		if name == "seq" { // too long an argument as a printf
			script = "i=1048577; while [ $i -lt 1056769 ]; do echo $i; i=$((i+1)); done"
		}
		args, _ := json.Marshal(map[string]any{"executable": "/bin/sh", "args": []string{"-c", script}})
		id++
		text := sdkBytes(t, name+" process_run", rawAnswer(t, ss, id, "tools/call", fmt.Sprintf(`{"name":"process_run","arguments":%s}`, args)))
		var run struct {
			Pid    int
			Stdout string
		}
		if err := json.Unmarshal([]byte(text), &run); err != nil || run.Stdout != asText(b) {
			t.Errorf("%s: process_run stdout %.100q (%v), want %.100q", name, run.Stdout, err, asText(b))
		}
		pid = run.Pid
		id++
		params := fmt.Sprintf(`{"name":"process_get_output","arguments":{"pid":%d,"stream":"stdout","tail":3}}`, run.Pid)
		sdkBytes(t, name+" tail", rawAnswer(t, ss, id, "tools/call", params))
		for _, enc := range []string{"utf8", "base64"} {
			id++
			params := fmt.Sprintf(`{"name":"process_get_output","arguments":{"pid":%d,"stream":"stdout","encoding":%q}}`, run.Pid, enc)
			if enc == "base64" { // a 2026-07-28 request: the SDK adds _meta (serverInfo)
				params = params[:len(params)-1] + `,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}`
			}
			result := rawAnswer(t, ss, id, "tools/call", params)
			if enc == "base64" && !bytes.HasPrefix(result, []byte(`{"_meta":{"io.modelcontextprotocol/serverInfo":`)) {
				t.Errorf("%s: a 2026-07-28 answer without serverInfo: %.200s", name, result)
			}
			text := sdkBytes(t, name+" "+enc, result)
			var out struct{ Stdout string }
			if err := json.Unmarshal([]byte(text), &out); err != nil || out.Stdout != encodeOutput(b, enc) {
				t.Errorf("%s %s: stdout %.100q (%v), want %.100q", name, enc, out.Stdout, err, encodeOutput(b, enc))
			}
		}
	}

	// Calls cancelled as soon as sent, between calls answered.
	for range 50 {
		id++
		ss.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"process_get_output","arguments":{"pid":%d}}}`, id, pid))
		ss.send(fmt.Sprintf(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":%d}}`, id))
		id++
		rawAnswer(t, ss, id, "tools/call", `{"name":"process_list","arguments":{}}`)
	}
	for deadline := time.Now().Add(5 * time.Second); kept(a) != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d results still kept", kept(a))
		}
	}
	// Every output-carrying answer went the pre-encoded way: 5 outputs
	// × 4 calls, and the cancelled calls (answered all the same).
	_, written := a.size()
	if written < 5*4 {
		t.Errorf("%d results written pre-encoded, want at least %d", written, 5*4)
	}
}

// Over HTTP (no pre-encoded answers) a result that carries output is the
// SDK's: the client gets the output as text and as structuredContent.
func TestHTTPOutputResult(t *testing.T) {
	hs, _, _ := httpSessionServer(t, 600)
	cs := dialAs(t, hs.URL, "alice-token")
	const word = "\"<a>\u2028" + standInPrefix
	res, m := callTool(t, cs, "process_run", map[string]any{"executable": "echo", "args": []string{word}})
	sc, _ := res.StructuredContent.(map[string]any)
	if res.IsError || m["stdout"] != word+"\n" || sc["stdout"] != word+"\n" {
		t.Fatalf("process_run over HTTP: %v, structuredContent %v", m, res.StructuredContent)
	}
}
