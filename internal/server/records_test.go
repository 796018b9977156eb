package server

import (
	"slices"
	"testing"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// The state-change records of groups, services and terminal resizes name
// the MCP tool that asked, as launches do: the server passes its tool
// name to the supervisor.
func TestStateRecordsNameTheTool(t *testing.T) {
	rec := &memRecorder{}
	cs := connect(t, newTestServer(t, testConfig(t), rec))
	ok := func(tool string, args map[string]any) map[string]any {
		t.Helper()
		res, m := callTool(t, cs, tool, args)
		if res.IsError {
			t.Fatalf("%s: %v", tool, m)
		}
		return m
	}
	g := ok("process_create_group", map[string]any{"name": "g"})["groupId"]
	pid := ok("process_start", map[string]any{"executable": "/bin/sleep", "args": []string{"30"}, "pty": true})["pid"]
	ok("process_send_stdin", map[string]any{"pid": pid, "cols": 90})
	ok("process_add_to_group", map[string]any{"groupId": g, "pid": pid})
	ok("process_terminate_group", map[string]any{"groupId": g, "force": true})
	ok("process_start_service", map[string]any{"name": "web", "executable": "/bin/sleep", "args": []string{"30"}})

	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := map[string][]string{}
	for _, r := range rec.recs {
		switch {
		case r.Event == audit.EventGroup, r.Event == audit.EventService, r.Event == audit.EventLaunch,
			r.Event == audit.EventStdin, r.Event == audit.EventTerminate && r.GroupID != "":
			got[r.Event] = append(got[r.Event], r.Tool)
		}
	}
	for event, want := range map[string][]string{
		audit.EventGroup:     {"process_create_group", "process_add_to_group"},
		audit.EventLaunch:    {"process_start", "process_start_service"},
		audit.EventStdin:     {"process_send_stdin"},
		audit.EventTerminate: {"process_terminate_group"},
		audit.EventService:   {"process_start_service"},
	} {
		if !slices.Equal(got[event], want) {
			t.Errorf("%s records name %q, want %q", event, got[event], want)
		}
	}
}
