//go:build linux

package e2e

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// rawClient speaks newline-delimited JSON-RPC to the server over pipes and
// keeps every line the server wrote to stdout.
type rawClient struct {
	t      *testing.T
	stdin  io.WriteCloser
	lines  chan []byte // every stdout line, in order; closed at EOF
	all    [][]byte
	bytes  int
	nextID int
}

func (c *rawClient) send(msg map[string]any) {
	c.t.Helper()
	msg["jsonrpc"] = "2.0"
	b, err := json.Marshal(msg)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.stdin.Write(append(b, '\n')); err != nil {
		c.t.Fatalf("write to server stdin: %v", err)
	}
}

// request sends a request and returns its response, checking every line
// read meanwhile.
func (c *rawClient) request(method string, params any) map[string]any {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	c.send(map[string]any{"id": id, "method": method, "params": params})
	timeout := time.After(60 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatalf("server stdout closed while waiting for the answer to %s", method)
			}
			msg := c.check(line)
			if v, ok := msg["id"].(float64); ok && int(v) == id && msg["method"] == nil {
				return msg
			}
		case <-timeout:
			c.t.Fatalf("no answer to %s within 60 s", method)
		}
	}
}

// check asserts one stdout line is a JSON-RPC 2.0 message.
func (c *rawClient) check(line []byte) map[string]any {
	c.t.Helper()
	c.all = append(c.all, line)
	c.bytes += len(line)
	var msg map[string]any
	if err := json.Unmarshal(line, &msg); err != nil {
		c.t.Fatalf("server stdout line %d is not JSON (%v): %.200q", len(c.all), err, line)
	}
	if msg["jsonrpc"] != "2.0" {
		c.t.Fatalf("server stdout line %d is not JSON-RPC 2.0: %.200s", len(c.all), line)
	}
	return msg
}

func toolCallResult(t *testing.T, resp map[string]any) (bool, map[string]any) {
	t.Helper()
	if resp["error"] != nil {
		t.Fatalf("JSON-RPC error: %v", resp["error"])
	}
	res, _ := resp["result"].(map[string]any)
	isErr, _ := res["isError"].(bool)
	sc, _ := res["structuredContent"].(map[string]any)
	if isErr {
		// An error's JSON is its text content; it has no structuredContent (SPEC 7.3).
		if res["structuredContent"] != nil {
			t.Fatalf("error result carries structuredContent: %v", res)
		}
		content, _ := res["content"].([]any)
		first, _ := content[0].(map[string]any)
		text, _ := first["text"].(string)
		if err := json.Unmarshal([]byte(text), &sc); err != nil {
			t.Fatalf("error result's text is not JSON: %q", text)
		}
	}
	return isErr, sc
}

// startRawServer starts the server on config path with a rawClient on its
// stdin and stdout; the session ends (stdin closed) at cleanup.
func startRawServer(t *testing.T, e *testEnv, path string) (*rawClient, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(serverBin, "serve", "--config", path)
	cmd.Dir = e.work
	cmd.Env = e.environ()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	c := &rawClient{t: t, stdin: stdin, lines: make(chan []byte, 1024)}
	go func() { // owner: ends at server stdout EOF
		defer close(c.lines)
		r := bufio.NewReaderSize(stdout, 1<<16)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				c.lines <- line
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		for range c.lines { // drain so the reader ends
		}
	})

	return c, stderr
}

// TestStdoutPurity: children that print megabytes never reach the server's
// stdout, which carries JSON-RPC and nothing else.
func TestStdoutPurity(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", e.config("/usr/bin/head", "/usr/bin/yes"))
	c, stderr := startRawServer(t, e, path)
	stdin := c.stdin

	init := c.request("initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw-e2e", "version": "1"},
	})
	if init["result"] == nil {
		t.Fatalf("initialize failed: %v\nstderr: %s", init, stderr)
	}
	c.send(map[string]any{"method": "notifications/initialized", "params": map[string]any{}})

	call := func(name string, args map[string]any) (bool, map[string]any) {
		return toolCallResult(t, c.request("tools/call", map[string]any{"name": name, "arguments": args}))
	}
	isErr, sc := call("process_start", map[string]any{
		"executable": "/usr/bin/head", "args": []string{"-c", "20000000", "/dev/zero"}, "captureOutput": false,
	})
	if isErr {
		t.Fatalf("process_start head: %v", sc)
	}
	pid := int(sc["pid"].(float64))
	isErr, sc = call("process_wait", map[string]any{"pid": pid, "timeout": 30000})
	if isErr || sc["state"] != "exited" {
		t.Fatalf("process_wait head: isError %v %v", isErr, sc)
	}
	if code, _ := sc["exitCode"].(float64); code != 0 {
		t.Errorf("head -c 20000000 /dev/zero exit code %v, want 0 (its output must go to /dev/null, not a closed pipe)", sc["exitCode"])
	}
	isErr, sc = call("process_get_output", map[string]any{"pid": pid})
	if ecode := errCode(sc); !isErr || ecode != "OUTPUT_CAPTURE_DISABLED" {
		t.Errorf("process_get_output without capture: isError %v code %q, want OUTPUT_CAPTURE_DISABLED (%v)", isErr, ecode, sc)
	}
	isErr, sc = call("process_run", map[string]any{
		"executable": "/usr/bin/yes", "args": []string{"spam"}, "captureOutput": false, "waitTimeout": 1000,
	})
	if isErr || sc["terminationReason"] != "timeout" {
		t.Errorf("process_run yes with waitTimeout: isError %v %v, want terminationReason timeout", isErr, sc)
	}

	// End the session and read stdout to its end: every line was checked.
	stdin.Close()
	deadline := time.After(30 * time.Second)
	for eof := false; !eof; {
		select {
		case line, ok := <-c.lines:
			if !ok {
				eof = true
				break
			}
			c.check(line)
		case <-deadline:
			t.Fatal("server stdout not closed 30 s after stdin EOF")
		}
	}
	if c.bytes > 1<<20 {
		t.Errorf("server wrote %d bytes to stdout for a handful of calls: child output leaked", c.bytes)
	}
	t.Logf("%d JSON-RPC lines, %d bytes on stdout", len(c.all), c.bytes)
}

func errCode(sc map[string]any) string {
	e, _ := sc["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

// sendRaw writes one raw line to the server's stdin.
func (c *rawClient) sendRaw(line string) {
	c.t.Helper()
	if _, err := c.stdin.Write([]byte(line + "\n")); err != nil {
		c.t.Fatalf("write to server stdin: %v", err)
	}
}

// nextAnswer returns the server's next stdout message that is not a
// notification.
func (c *rawClient) nextAnswer() map[string]any {
	c.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				c.t.Fatal("server stdout closed: the session ended")
			}
			if msg := c.check(line); msg["method"] == nil {
				return msg
			}
		case <-timeout:
			c.t.Fatal("no answer within 30 s")
		}
	}
}

// TestMalformedStdioLines (SPEC 7.2): a line that is not JSON, not a
// JSON-RPC message or nested too deep is answered with a JSON-RPC error;
// the session goes on and the process it started still runs.
func TestMalformedStdioLines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c, stderr := startRawServer(t, e, e.writeConfig(t, "config.json", e.config("/usr/bin/sleep")))
	init := c.request("initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw-e2e", "version": "1"},
	})
	if init["result"] == nil {
		t.Fatalf("initialize failed: %v\nstderr: %s", init, stderr)
	}
	c.send(map[string]any{"method": "notifications/initialized", "params": map[string]any{}})
	call := func(name string, args map[string]any) (bool, map[string]any) {
		return toolCallResult(t, c.request("tools/call", map[string]any{"name": name, "arguments": args}))
	}
	isErr, sc := call("process_start", map[string]any{"executable": "/usr/bin/sleep", "args": []string{"60"}})
	if isErr {
		t.Fatalf("process_start: %v", sc)
	}
	pid := int(sc["pid"].(float64))

	for _, tc := range []struct {
		line string
		code float64
	}{
		{"garbage", -32700},
		{"[]", -32600},
		{strings.Repeat("[", 5000) + strings.Repeat("]", 5000), -32600},
		{`{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"a":` + strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 102), -32600},
		{`{"jsonrpc":"2.0","id":"x"`, -32700},
		{`{"hello":"world"}`, -32600},
		{`[{"jsonrpc":"2.0","id":78,"method":"ping"}]`, -32600},
	} {
		c.sendRaw(tc.line)
		msg := c.nextAnswer()
		e, _ := msg["error"].(map[string]any)
		if code, _ := e["code"].(float64); code != tc.code {
			t.Errorf("%.50q: answer %v, want JSON-RPC error %v", tc.line, msg, tc.code)
		}
	}
	if !alive(pid) {
		t.Fatalf("pid %d no longer runs after the malformed lines", pid)
	}
	isErr, sc = call("process_get_status", map[string]any{"pid": pid})
	if isErr || sc["state"] != "running" {
		t.Fatalf("process_get_status after the malformed lines: isError %v %v", isErr, sc)
	}
	if !strings.Contains(stderr.String(), "malformed message answered") {
		t.Errorf("stderr does not note the malformed lines:\n%s", tail(stderr.String(), 2000))
	}
}
