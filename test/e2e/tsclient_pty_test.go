//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"testing"
)

// A pseudo-terminal session through the TypeScript SDK's Client (SPEC
// 7.4): the pty, terminal and eofSent members of the results pass its
// outputSchema validation, a process_run on a terminal of a chosen size
// reports that size (stty), and cat is driven line by line, resized and
// ended with Ctrl-D (closeStdin).
func TestTSClientPTY(t *testing.T) {
	t.Parallel()
	tsClient(t)
	if _, err := os.Stat("/usr/bin/stty"); err != nil {
		t.Skip("/usr/bin/stty not available")
	}
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", e.config("/usr/bin/stty", "/bin/cat", "/usr/bin/cat"))
	calls := []tsCall{
		{Name: "process_run", Arguments: map[string]any{"executable": "/usr/bin/stty", "args": []string{"size"}, "pty": true, "cols": 77, "rows": 33}},
		{Name: "process_start", Arguments: map[string]any{"executable": "cat", "pty": true}},
		{Name: "process_send_stdin", Arguments: map[string]any{"pid": "$pid", "data": "hello\n"}},
		// The terminal's echo, then cat's copy.
		{Name: "process_get_output", Arguments: map[string]any{"pid": "$pid"}, Until: "hello\r\nhello\r\n"},
		{Name: "process_send_stdin", Arguments: map[string]any{"pid": "$pid", "cols": 100, "rows": 30}},
		{Name: "process_get_status", Arguments: map[string]any{"pid": "$pid"}},
		{Name: "process_send_stdin", Arguments: map[string]any{"pid": "$pid", "closeStdin": true}},
		{Name: "process_wait", Arguments: map[string]any{"pid": "$pid", "timeout": 20000}},
		{Name: "process_start", Arguments: map[string]any{"executable": "cat", "cols": 80}, wantCode: "INVALID_INPUT"},
	}
	rep := runTSClient(t, e, map[string]any{
		"transport": "stdio", "command": serverBin, "args": []string{"serve", "--config", path}, "cwd": e.work,
	}, calls)
	checkTSReport(t, rep, calls)
	sc := func(i int) map[string]any {
		var m map[string]any
		_ = json.Unmarshal(rep.Results[i].Result.StructuredContent, &m)
		return m
	}
	size := func(v any) [2]any {
		m, _ := v.(map[string]any)
		return [2]any{m["cols"], m["rows"]}
	}
	if r := sc(0); r["stdout"] != "33 77\r\n" || r["stderr"] != "" || r["pty"] != true || r["exitCode"] != float64(0) {
		t.Errorf("process_run of stty size on a 77x33 terminal: %v", r)
	}
	if r := sc(1); r["pty"] != true || size(r["terminal"]) != [2]any{float64(80), float64(24)} {
		t.Errorf("process_start with pty: %v", r)
	}
	if r := sc(3); r["stdout"] != "hello\r\nhello\r\n" || r["pty"] != true {
		t.Errorf("terminal output: %v", r)
	}
	if r := sc(4); size(r["terminal"]) != [2]any{float64(100), float64(30)} || r["bytesWritten"] != float64(0) {
		t.Errorf("resize: %v", r)
	}
	if r := sc(5); size(r["terminal"]) != [2]any{float64(100), float64(30)} {
		t.Errorf("status after the resize: %v", r)
	}
	if r := sc(6); r["eofSent"] != true || r["stdinClosed"] != false {
		t.Errorf("closeStdin on a terminal: %v", r)
	}
	if r := sc(7); r["state"] != "exited" || r["exitCode"] != float64(0) {
		t.Errorf("cat after Ctrl-D: %v", r)
	}
}
