package supervisor

import (
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// The supervisor records the caller's label, not a wire protocol's name:
// the CLI's run terminating or feeding its child is recorded as "run"
// (it was recorded as process_terminate / process_send_stdin).
func TestRecordsCarryTheCallersLabel(t *testing.T) {
	s, rec := newSup(t, baseConfig())
	st, err := s.Start(agentA, specFor(t, "cat"), StartOptions{Tool: "run", Stdin: StdinPipe})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendStdin(agentA, st.Pid, []byte("x\n"), false, "run"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Terminate(agentA, st.Pid, false, time.Second, "run"); err != nil {
		t.Fatal(err)
	}
	for _, ev := range []string{audit.EventLaunch, audit.EventStdin, audit.EventTerminate, audit.EventExit} {
		rs := rec.events(ev, st.Pid)
		if len(rs) != 1 || rs[0].Tool != "run" {
			t.Errorf("%s records %+v, want one with tool \"run\"", ev, rs)
		}
	}
}
