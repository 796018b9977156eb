package supervisor

import (
	"log/slog"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// Durability of what cannot be undone (SPEC 7.2). A launch is never
// started without its record on disk (the stage waits at its gate). A
// termination, requested or by the server's own limits, is never held back
// by the audit log: the signals are sent first, and a record that then
// cannot be written is reported in the call's result (auditError) and on
// stderr, not turned into a failed call. Records of things that already
// happened (an exit, a service restart) cannot fail a call: their failure
// goes to stderr.

// recordOrWarn writes r; a failure is logged on stderr (the server's log).
func (s *Supervisor) recordOrWarn(r audit.Record) {
	if err := s.record(r); err != nil {
		s.warnUnrecorded(r, err)
	}
}

func (s *Supervisor) warnUnrecorded(r audit.Record, err error) {
	l := s.opts.Logger
	if l == nil {
		l = slog.Default()
	}
	l.Error("audit record not written", "event", r.Event, "agent", r.Agent, "pid", r.PID, "group", r.GroupID,
		"service", r.ServiceID, "error", err.Error())
}

// auditNotWritten is the auditError of a result whose action was done but
// whose record could not be written.
func auditNotWritten(err error) string {
	return "done, but its audit record could not be written (fix the audit log: disk full? permissions?): " + err.Error()
}
