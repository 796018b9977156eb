package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// shellServer is a test server that may run /bin/sh, to write chosen bytes
// to stdout and stderr.
func shellServer(t *testing.T) *mcp.ClientSession {
	t.Helper()
	cfg := testConfig(t)
	cfg.BlockShellInterpreters = false
	cfg.BlockInjectionPatterns = false
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, "/bin/sh", "/usr/bin/sh", "/usr/bin/printf")
	return connect(t, newTestServer(t, cfg, &memRecorder{}))
}

// textOf is a result's text content as the client received it.
func textOf(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// runShell runs script with process_run and returns its pid and its text.
func runShell(t *testing.T, cs *mcp.ClientSession, script string, extra map[string]any) (any, string) {
	t.Helper()
	args := map[string]any{"executable": "/bin/sh", "args": []string{"-c", script}}
	for k, v := range extra {
		args[k] = v
	}
	res, m := callTool(t, cs, "process_run", args)
	if res.IsError || m["exitCode"] != float64(0) {
		t.Fatalf("process_run %q: %v", script, m)
	}
	return m["pid"], textOf(res)
}

// outputPart is the output members of a process_run result: from "stdout"
// to the duration (the rest is the status, with times and pids).
func outputPart(t *testing.T, text string) string {
	t.Helper()
	i, j := strings.Index(text, `"stdout":`), strings.Index(text, `,"durationMs":`)
	if i < 0 || j < i {
		t.Fatalf("no output members in %s", text)
	}
	return text[i:j]
}

// The bytes a process wrote reach the agent as they always did: text with
// invalid UTF-8 replaced (U+FFFD, sent as it is), NUL and other control bytes escaped, or
// base64, per stream or both, from an offset or the tail; process_run's
// tail starts on a character boundary; the output resource is the text.
// The expected strings are the server's answers byte for byte.
func TestOutputOnTheWire(t *testing.T) {
	cs := shellServer(t)
	// stdout: a, an invalid byte, b, NUL, é, <, newline; stderr: é and a cut é.
	pid, text := runShell(t, cs, `printf 'a\377b\000\303\251<\n'; printf '\303\251\303' >&2`, nil)
	if got, want := outputPart(t, text), `"stdout":"a�b\u0000é\u003c\n","stderr":"é�","truncated":false,"stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":0,"stderr":0},"nextOffset":{"stdout":8,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}`; got != want {
		t.Errorf("process_run output:\n got %s\nwant %s", got, want)
	}
	for _, tc := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{},
			`{"status":"success","stdout":"a�b\u0000é\u003c\n","stderr":"é�","encoding":"utf8","stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":0,"stderr":0},"nextOffset":{"stdout":8,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}}`},
		{map[string]any{"encoding": "base64"},
			`{"status":"success","stdout":"Yf9iAMOpPAo=","stderr":"w6nD","encoding":"base64","stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":0,"stderr":0},"nextOffset":{"stdout":8,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}}`},
		{map[string]any{"stream": "both", "encoding": "utf-8"},
			`{"status":"success","stdout":"a�b\u0000é\u003c\n","stderr":"é�","encoding":"utf8","stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":0,"stderr":0},"nextOffset":{"stdout":8,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}}`},
		{map[string]any{"stream": "stdout", "offset": 1, "maxBytes": 2, "encoding": "base64"},
			`{"status":"success","stdout":"/2I=","stderr":"","encoding":"base64","stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":1,"stderr":3},"nextOffset":{"stdout":3,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}}`},
		{map[string]any{"stream": "stderr", "tail": 2},
			`{"status":"success","stdout":"","stderr":"�","encoding":"utf8","stdoutBytes":8,"stderrBytes":3,"offset":{"stdout":8,"stderr":1},"nextOffset":{"stdout":8,"stderr":3},"droppedBytes":{"stdout":0,"stderr":0}}`},
	} {
		tc.args["pid"] = pid
		res, m := callTool(t, cs, "process_get_output", tc.args)
		if got := textOf(res); res.IsError || got != tc.want {
			t.Errorf("process_get_output %v:\n got %s\nwant %s (%v)", tc.args, got, tc.want, m)
		}
	}
	for _, tc := range []struct{ stream, want string }{{"stdout", "a\uFFFDb\x00é<\n"}, {"stderr", "é\uFFFD"}} {
		uri := fmt.Sprintf("process://%v/%s", pid, tc.stream)
		rr, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
		if err != nil || len(rr.Contents) != 1 || rr.Contents[0].Text != tc.want || rr.Contents[0].MIMEType != "text/plain" {
			b, _ := json.Marshal(rr)
			t.Errorf("read %s: %v %s, want text %q", uri, err, b, tc.want)
		}
	}

	// A tail cut inside a character starts after it; the offset says where.
	_, text = runShell(t, cs, `printf '\303\251\303\251'`, map[string]any{"maxResultBytes": 3})
	if got, want := outputPart(t, text), `"stdout":"é","stderr":"","truncated":true,"stdoutBytes":4,"stderrBytes":0,"offset":{"stdout":2,"stderr":0},"nextOffset":{"stdout":4,"stderr":0},"droppedBytes":{"stdout":0,"stderr":0}`; got != want {
		t.Errorf("process_run tail cut in a character:\n got %s\nwant %s", got, want)
	}
	// Bytes that are not text at all are left as they are (a run of invalid
	// bytes is one U+FFFD).
	_, text = runShell(t, cs, `printf '\251\251\251\251'`, map[string]any{"maxResultBytes": 3})
	if got, want := outputPart(t, text), `"stdout":"�","stderr":"","truncated":true,"stdoutBytes":4,"stderrBytes":0,"offset":{"stdout":1,"stderr":0},"nextOffset":{"stdout":4,"stderr":0},"droppedBytes":{"stdout":0,"stderr":0}`; got != want {
		t.Errorf("process_run tail of non-text:\n got %s\nwant %s", got, want)
	}

	// Unknown values are refused naming the argument.
	for _, args := range []map[string]any{{"stream": "all"}, {"encoding": "latin1"}} {
		args["pid"] = pid
		if res, m := callTool(t, cs, "process_get_output", args); !res.IsError || errorCode(m) != "INVALID_INPUT" {
			t.Errorf("process_get_output %v: want INVALID_INPUT, got %v", args, m)
		}
	}
}
