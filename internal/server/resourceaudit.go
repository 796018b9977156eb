package server

import (
	"fmt"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Resource requests are audited like tool calls (SPEC 7.2: every denial is
// a record). A refused resources/read or resources/subscribe (a malformed
// URI, or a pid that is not the caller's: another agent's output is "not
// found", as for every tool) is a "call_failed" denial record, bounded and
// summarised like any denial (internal/audit bound.go, denials.go); a
// served read is a debug "read" record, as process_get_output's. A record
// that cannot be written turns the answer into an internal error.

// Resource methods, as the records' tool.
const (
	methodResourceRead      = "resources/read"
	methodResourceSubscribe = "resources/subscribe"
)

// denyResource records the refusal of method on uri by agent and returns
// the error to answer with: notFound, or an internal error when the record
// cannot be written.
func (s *Server) denyResource(agent, method, uri string, pid int, code errcode.Code, notFound error) error {
	reason := fmt.Sprintf("%s %s: not found (not a process output URI of this agent)", method, uri)
	if pid != 0 {
		reason = fmt.Sprintf("%s %s: no process %d of this agent", method, uri, pid)
	}
	rec := audit.Record{Level: audit.LevelInfo, Event: "call_failed", Agent: agent, Tool: method, PID: pid,
		Decision: "deny", Layer: layer.Process.String(), Code: string(code), Reason: reason}
	if err := s.record(rec); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "audit record could not be written: " + err.Error()}
	}
	return notFound
}

// recordResourceRead records a served read (debug level, like the tools').
func (s *Server) recordResourceRead(agent, uri string, pid int) error {
	if err := s.record(audit.Record{Level: audit.LevelDebug, Event: audit.EventRead, Agent: agent, Tool: methodResourceRead,
		PID: pid, Reason: uri}); err != nil {
		return &jsonrpc.Error{Code: jsonrpc.CodeInternalError, Message: "audit record could not be written: " + err.Error()}
	}
	return nil
}
