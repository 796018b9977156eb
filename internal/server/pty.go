package server

import (
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// Terminal arguments (SPEC 7.4): cols and rows size a pseudo-terminal, at
// process_start / process_run (with pty) and at process_send_stdin (a
// resize of a running one).

func maximum(v float64) func(*jsonschema.Schema) {
	return func(s *jsonschema.Schema) { s.Maximum = &v }
}

// terminalTweaks bound cols and rows.
func terminalTweaks() []schemaTweak {
	var ts []schemaTweak
	for _, k := range []string{"cols", "rows"} {
		ts = append(ts, at(minimum(1), k), at(maximum(supervisor.MaxTerminalSide), k))
	}
	return ts
}
