package supervisor

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestPipelineRetentionZero: with exitedRetentionSeconds 0 a pipeline
// member that exits is forgotten at the janitor's next pass, but what it
// wrote is still on its way to the next member (the group's pipe copies
// it as fast as that member reads): the next member gets all of it, not
// what the pipe had copied when the janitor dropped the ring.
func TestPipelineRetentionZero(t *testing.T) {
	cfg := baseConfig()
	cfg.ExitedRetentionSeconds = 0
	s, _ := newSup(t, cfg)
	g, err := s.CreateGroup(agentA, "pipe", true, "process_create_group")
	if err != nil {
		t.Fatal(err)
	}
	// first writes 1 MB once told to, and exits; second reads its stdin
	// only 3 s later (the janitor has run meanwhile) and exits 0 only when
	// it got all of it (its output would be forgotten with it).
	first := start(t, s, agentA, specFor(t, "sh", "-c", "read go; head -c 1000000 /dev/zero"), capture())
	second := start(t, s, agentA, specFor(t, "sh", "-c", `sleep 3; n=$(wc -c); [ "$n" -eq 1000000 ] || exit 3`), capture())
	for _, pid := range []int{first.Pid, second.Pid} {
		if err := s.AddToGroup(agentA, g, pid, "process_add_to_group"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.SendStdin(agentA, first.Pid, []byte("go\n"), true, "test"); err != nil {
		t.Fatal(err)
	}
	st := waitExit(t, s, agentA, second.Pid)
	if st.ExitCode == nil || *st.ExitCode != 0 {
		code := -1
		if st.ExitCode != nil {
			code = *st.ExitCode
		}
		t.Fatalf("the second member did not get the first's 1000000 bytes (exit %d, %s)", code, st.TerminationReason)
	}
	// And once the pipe is done, the first is forgotten after all.
	eventually(t, "the first member forgotten once its pipe ended", func() bool {
		_, err := s.Status(agentA, first.Pid)
		return err != nil && errcode.As(err).Code == errcode.ProcessNotFound
	})
}
