package server

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// stdioSession runs ServeStdio over pipes; send writes one raw line, next
// reads the server's next stdout line.
type stdioSession struct {
	t     *testing.T
	in    *io.PipeWriter
	lines chan string
	done  chan error
}

func startStdio(t *testing.T, s *Server) *stdioSession {
	t.Helper()
	return startStdioAnswers(t, s, newAnswers())
}

// startStdioAnswers is startStdio with the session's pre-encoded answers
// given (preencode.go), for the test to look into.
func startStdioAnswers(t *testing.T, s *Server, a *answers) *stdioSession {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ss := &stdioSession{t: t, in: inW, lines: make(chan string, 100), done: make(chan error, 1)}
	go func() { // owner: ends when the session ends (stdin closed below)
		ss.done <- s.serveStdio(context.Background(), inR, outW, a)
		outW.Close()
	}()
	go func() { // owner: ends at stdout EOF
		defer close(ss.lines)
		sc := bufio.NewScanner(outR)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			ss.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		inW.Close()
		select {
		case <-ss.done:
		case <-time.After(10 * time.Second):
			t.Error("stdio session did not end 10 s after stdin EOF")
		}
		for range ss.lines {
		}
	})
	return ss
}

func (ss *stdioSession) send(line string) {
	ss.t.Helper()
	if _, err := io.WriteString(ss.in, line+"\n"); err != nil {
		ss.t.Fatalf("write %.60q: %v", line, err)
	}
}

// next returns the server's next answer, skipping its notifications.
func (ss *stdioSession) next() map[string]any {
	ss.t.Helper()
	for {
		if m := ss.nextLine(); m["method"] == nil {
			return m
		}
	}
}

func (ss *stdioSession) nextLine() map[string]any {
	ss.t.Helper()
	select {
	case line, ok := <-ss.lines:
		if !ok {
			ss.t.Fatal("the server closed stdout: the session ended")
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["jsonrpc"] != "2.0" {
			ss.t.Fatalf("stdout line is not a JSON-RPC message: %.200q", line)
		}
		return m
	case <-time.After(10 * time.Second):
		ss.t.Fatal("no answer within 10 s")
	}
	return nil
}

func rpcErrorCode(m map[string]any) float64 {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return c
}

// TestStdioMalformedLinesAnswered: every kind of bad line gets its JSON-RPC
// error, the session goes on, and a process started before keeps running.
func TestStdioMalformedLinesAnswered(t *testing.T) {
	s := newTestServer(t, testConfig(t), &memRecorder{})
	ss := startStdio(t, s)
	ss.send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if m := ss.next(); m["result"] == nil {
		t.Fatalf("initialize: %v", m)
	}
	ss.send(`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`)
	ss.send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"process_start","arguments":{"executable":"sleep","args":["30"]}}}`)
	start := ss.next()
	res, _ := start["result"].(map[string]any)
	sc, _ := res["structuredContent"].(map[string]any)
	pid, _ := sc["pid"].(float64)
	if pid == 0 {
		t.Fatalf("process_start: %v", start)
	}

	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	deepParams := `{"jsonrpc":"2.0","id":7,"method":"ping","params":{"a":` + strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat("}", 201) + `}`
	tooDeepForGo := strings.Repeat("[", 20000) + strings.Repeat("]", 20000)
	for _, tc := range []struct {
		line string
		code float64
		id   any
	}{
		{`garbage`, -32700, nil},
		{`{"jsonrpc":"2.0","id":3,"method":"ping"`, -32700, nil},
		{`{"jsonrpc":"2.0","id":3,"method":"ping"} {}`, -32700, nil},
		{`[]`, -32600, nil},
		{`[{"jsonrpc":"2.0","id":4,"method":"ping"}]`, -32600, nil},
		{`42`, -32600, nil},
		{`"text"`, -32600, nil},
		{`null`, -32600, nil},
		{`{}`, -32600, nil},
		{`{"jsonrpc":"1.0","id":5,"method":"ping"}`, -32600, float64(5)},
		{`{"jsonrpc":"2.0"}`, -32600, nil},
		{`{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}`, -32600, nil},
		{`{"jsonrpc":"2.0","id":8,"method":17}`, -32600, float64(8)},
		{deep, -32600, nil},
		{deepParams, -32600, nil},
		{tooDeepForGo, -32700, nil},
	} {
		ss.send(tc.line)
		m := ss.next()
		if c := rpcErrorCode(m); c != tc.code {
			t.Errorf("%.60q: answer %v, want error %v", tc.line, m, tc.code)
		}
		if id, ok := m["id"]; !ok || id != tc.id {
			t.Errorf("%.60q: answer id %v (present %v), want %v", tc.line, id, ok, tc.id)
		}
	}
	// A well-formed message the server does not know is the SDK's to answer.
	ss.send(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":[]}`)
	if m := ss.next(); m["error"] == nil || m["id"] != float64(9) {
		t.Errorf("tools/call with array params: %v, want an error for id 9", m)
	}
	ss.send("   ") // blank lines are skipped
	ss.send(`  {"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"process_get_status","arguments":{"pid":` +
		jsonNum(pid) + `}}}  `)
	m := ss.next()
	res, _ = m["result"].(map[string]any)
	sc, _ = res["structuredContent"].(map[string]any)
	if m["id"] != float64(10) || sc["state"] != "running" {
		t.Fatalf("after the bad lines, process_get_status: %v, want the process running", m)
	}
}

func jsonNum(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// TestStdioOverlongLine: a line past the size cap is answered -32600 and
// skipped; the next line is served.
func TestStdioOverlongLine(t *testing.T) {
	s := newTestServer(t, testConfig(t), &memRecorder{})
	ss := startStdio(t, s)
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"` + strings.Repeat("a", maxMessageBytes) + `"}}`
	go func() { // owner: ends when the write completes or the pipe closes
		_, _ = io.WriteString(ss.in, big+"\n")
	}()
	if m := ss.next(); rpcErrorCode(m) != -32600 {
		t.Fatalf("over-long line: %v, want -32600", m)
	}
	ss.send(`{"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if m := ss.next(); m["result"] == nil || m["id"] != float64(2) {
		t.Fatalf("initialize after an over-long line: %v", m)
	}
}
