// Package server exposes the supervisor as MCP tools and resources, over
// stdio or Streamable HTTP, and maps every call to an agent.
//
// Guarantees: every tool call is decoded against the tool's JSON Schema
// (unknown members rejected); every launch goes through policy.Evaluate
// before the supervisor sees it; every denial is answered with isError and
// its error JSON as text content only ({"status":"error", the original's
// flat code, message and remediation, and "error":{code,layer,message,
// remedy}}), never with structuredContent that would fail the tool's
// outputSchema, and written to the audit log before the answer; every
// success has "status":"success" and conforms to the outputSchema; no
// input schema has a ["null", T] type union; an agent only ever sees and
// controls its own processes, and only its own sessions get its audit
// records as MCP log notifications (at the level their client set); a
// process_run result carries at most maxResultBytes of each stream and its
// progress notifications whole lines, at most one per 100 ms. A malformed
// stdio line is answered with a JSON-RPC error and the session goes on
// (stdio.go); over stdio a result that carries output is encoded once, by
// the server, to the bytes the SDK would send (preencode.go); an HTTP
// session expires when idle and answers only the agent
// that opened it, and its id is never logged (httpsession.go). The
// server holds no process state (the supervisor does) and never writes to
// stdout: in stdio mode stdout belongs to the JSON-RPC transport alone.
package server

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/approval"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// Options configure a Server.
type Options struct {
	Config     *config.Config
	Source     string // where the config came from (process_get_policy)
	Policy     *policy.Policy
	Supervisor *supervisor.Supervisor
	Audit      audit.Recorder
	// AgentID fixes the agent of a stdio session ("" = the client's
	// clientInfo.name, else "stdio").
	AgentID string
	// Layers reports, per enforcement layer, its state on this host and
	// build (for process_get_policy).
	Layers map[string]string
	// ListResources lists each live process's output resources
	// (resources/list). Only for a single-agent transport (stdio): with
	// several agents a list would reveal other agents' pids.
	ListResources bool
	// Version is the server version announced to clients.
	Version string
	// Logger writes diagnostics (to stderr or a file; never stdout).
	Logger *slog.Logger
	// Now is the clock (nil = time.Now).
	Now func() time.Time
	// Approver asks a person before launches and terminations that need
	// approval (nil: every such launch or termination is refused).
	Approver *approval.Approver
}

// Server is the MCP face of mcp-process.
type Server struct {
	opts  Options
	cfg   *config.Config
	mcp   *mcp.Server
	tools []string
	// decoders decode each tool's arguments as its handler does (fuzzing).
	decoders map[string]func([]byte) error
	tokens   map[[32]byte]string // sha256(token) -> agent id (HTTP)
	now      func() time.Time

	notifier  *outputNotifier
	clientLog *clientLog
	events    *mcp.MemoryEventStore // HTTP streams' bounded event store (sseresume.go)
	closeOnce sync.Once
	sessions  sessionOwners // HTTP session id -> the agent that opened it
}

// notifyTimeout bounds one resources/updated notification to a slow client.
const notifyTimeout = 2 * time.Second

// New builds the MCP server with every tool registered.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, cfg: opts.Config, now: opts.Now, tokens: map[[32]byte]string{}}
	if s.now == nil {
		s.now = time.Now
	}
	for _, a := range opts.Config.Agents {
		var h [32]byte
		if b, err := hex.DecodeString(a.TokenSha256); err == nil && len(b) == 32 {
			copy(h[:], b)
			s.tokens[h] = a.ID
		}
	}
	s.mcp = mcp.NewServer(&mcp.Implementation{Name: "mcp-process", Version: opts.Version}, &mcp.ServerOptions{
		Logger:             slog.New(noSessionIDs{quietHandler{opts.Logger.Handler()}}),
		SubscribeHandler:   s.subscribe,
		UnsubscribeHandler: s.unsubscribe,
		Instructions: "mcp-process starts, watches, feeds and stops processes under a fixed security policy. " +
			"Call process_get_policy to see what may run. Denials carry a stable error code and a remedy.",
	})
	s.clientLog = newClientLog(s)
	s.events = newEventStore()
	s.mcp.AddReceivingMiddleware(preEncode, codedErrors, s.clientLog.learnSessions, newRepeatedInitialize(s).middleware, s.unknownTool)
	s.notifier = newOutputNotifier(s.sendUpdated, s.applyResourceOp)
	s.registerTools()
	s.registerResources()
	return s
}

// MCP returns the underlying MCP server (for transports and tests).
func (s *Server) MCP() *mcp.Server { return s.mcp }

// Tools lists the registered tool names.
func (s *Server) Tools() []string { return append([]string(nil), s.tools...) }

// call is one tool call: who asked, through which tool.
type call struct {
	agent  string
	tool   string
	req    *mcp.CallToolRequest
	launch *launchInput // set by launch tools, for the audit record of a denial
	pid    int          // set by tools that address a process
}

func (s *Server) newCall(req *mcp.CallToolRequest, tool string) *call {
	return &call{agent: s.agentOf(req), tool: tool, req: req}
}

// agentOf maps a request to its agent: over HTTP by bearer token (the
// transport has already refused unknown tokens), over stdio the fixed
// --agent-id or the client's name.
func (s *Server) agentOf(req *mcp.CallToolRequest) string {
	return s.agentFrom(req.Session, req.Extra)
}

func (s *Server) agentFrom(session *mcp.ServerSession, extra *mcp.RequestExtra) string {
	if extra != nil && extra.Header != nil {
		if id, ok := s.agentForHeader(extra.Header.Get("Authorization")); ok {
			return id
		}
		if len(s.tokens) == 0 {
			return "local"
		}
		return "unauthenticated"
	}
	if s.opts.AgentID != "" {
		return s.opts.AgentID
	}
	if session != nil {
		if p := session.InitializeParams(); p != nil && p.ClientInfo != nil && p.ClientInfo.Name != "" {
			return p.ClientInfo.Name
		}
	}
	return "stdio"
}

// agentForHeader returns the agent of an "Authorization: Bearer TOKEN" value.
func (s *Server) agentForHeader(h string) (string, bool) {
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(tok))
	for h, id := range s.tokens {
		if subtle.ConstantTimeCompare(h[:], sum[:]) == 1 {
			return id, true
		}
	}
	return "", false
}

// fail records a refused or failed call and builds its error result. A
// policy denial is a security_violation (warn); other failures are recorded
// at info (or error for INTERNAL). If the record cannot be written the call
// fails with INTERNAL.
func (s *Server) fail(c *call, e *errcode.Error) *mcp.CallToolResult {
	rec := audit.Denial(c.agent, c.tool, e, strings.HasPrefix(c.tool, "process_start") || c.tool == "process_run")
	if c.launch != nil {
		rec.Executable, rec.Args, rec.Cwd = c.launch.Executable, redactArgs(e, c.launch.Args), c.launch.Cwd
		rec.EnvNames = envNames(c.launch.Env)
	}
	if c.pid != 0 {
		rec.PID = c.pid
	}
	if err := s.record(rec); err != nil {
		e = errcode.Fail(errcode.Internal, layer.Audit, "check that the audit log is writable", "audit record could not be written: %v", err)
	}
	return errorToolResult(e)
}

// record writes an audit record if auditing is configured.
func (s *Server) record(r audit.Record) error {
	if s.opts.Audit == nil {
		return nil
	}
	return s.opts.Audit.Record(r)
}

// redactArgs hides every argument of a call denied by the arguments layer:
// the matched value may be a secret.
func redactArgs(e *errcode.Error, args []string) []string {
	if e.Layer != layer.Arguments.String() || len(args) == 0 {
		return args
	}
	out := make([]string, len(args))
	for i := range out {
		out[i] = "[redacted]"
	}
	return out
}

func envNames(env map[string]string) []string {
	if len(env) == 0 {
		return nil
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
