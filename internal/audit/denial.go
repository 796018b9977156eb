package audit

import "github.com/mcp-process/mcp-process/internal/errcode"

// EventCallFailed is a refused or failed call that is neither a launch nor
// a policy denial (a pid that does not exist, bad input).
const EventCallFailed = "call_failed"

// Denial is the record of a refused or failed request, shared by every
// front end (the MCP server, the CLI): a policy denial is a
// security_violation (warn); an internal failure an internal_error (error,
// no decision); anything else launch_denied (info) for a launch and
// call_failed otherwise. The caller adds what it knows of the request
// (executable, arguments, pid).
func Denial(agent, tool string, e *errcode.Error, launch bool) Record {
	rec := Record{Agent: agent, Tool: tool, Decision: "deny", Layer: e.Layer, Reason: e.Message, Code: string(e.Code)}
	switch {
	case e.Violation:
		rec.Event, rec.Level = EventSecurityViolation, LevelWarn
	case e.Code == errcode.Internal:
		rec.Event, rec.Level, rec.Decision = EventInternalError, LevelError, ""
	case launch:
		rec.Event, rec.Level = EventLaunchDenied, LevelInfo
	default:
		rec.Event, rec.Level = EventCallFailed, LevelInfo
	}
	return rec
}
