//lint:file-ignore SA1019 SPEC 7.4 asks for notifications/message; the SDK marks logging deprecated for protocol 2026-07-28 (SEP-2577), still served in its deprecation window

package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/audit"
)

// MCP log notifications (SPEC 7.4): every audit record of an agent (its
// launches, exits, terminations, denials and security violations, service
// state and health changes; reads at debug) is also sent to that agent's
// sessions as notifications/message, at the level the client set with
// logging/setLevel. A session that set no level gets none (the SDK's rule).
// Records are queued without blocking the recorder: when the queue is
// full, records are dropped (and counted in the server's own log), never
// delayed.

const (
	// logQueueSize bounds the records waiting to be sent.
	logQueueSize = 256
	// logNotifyTimeout bounds one notification to a slow client.
	logNotifyTimeout = 2 * time.Second
	// logLoggerName is the "logger" of every notification.
	logLoggerName = "mcp-process"
)

// clientLog sends audit records as MCP log notifications to the sessions of
// their agent. One goroutine, owned by the Server (stopped by close), sends.
type clientLog struct {
	srv   *Server
	queue chan audit.Record
	stop  chan struct{}
	done  chan struct{}

	mu       sync.Mutex
	agents   map[*mcp.ServerSession]string // session -> agent, learned from its requests
	dropped  int
	stopOnce sync.Once
}

func newClientLog(s *Server) *clientLog {
	l := &clientLog{srv: s, queue: make(chan audit.Record, logQueueSize), stop: make(chan struct{}), done: make(chan struct{}),
		agents: map[*mcp.ServerSession]string{}}
	go l.run()
	return l
}

// OnAudit is the audit tap: it queues r for r.Agent's sessions. Never blocks.
func (s *Server) OnAudit(r audit.Record) {
	if r.Agent == "" {
		return // the server's own records (start, stop) belong to no agent
	}
	select {
	case s.clientLog.queue <- r:
	default:
		s.clientLog.mu.Lock()
		s.clientLog.dropped++
		s.clientLog.mu.Unlock()
	}
}

// TapAudit returns a Recorder that writes to rec and then hands every
// record to the server (OnAudit) through srv, once srv holds one; the
// record's error is rec's.
func TapAudit(rec audit.Recorder, srv func() *Server) audit.Recorder {
	return auditTap{rec: rec, srv: srv}
}

type auditTap struct {
	rec audit.Recorder
	srv func() *Server
}

func (t auditTap) Record(r audit.Record) error {
	var err error
	if t.rec != nil {
		err = t.rec.Record(r)
	}
	if s := t.srv(); s != nil {
		s.OnAudit(r)
	}
	return err
}

// learnSessions is a receiving middleware: it remembers the agent of each
// session that sent a request (over HTTP the agent is known from a
// request's bearer token, not from the session).
func (l *clientLog) learnSessions(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		l.learn(req)
		res, err := next(ctx, method, req)
		if method == "initialize" {
			l.learn(req) // over stdio the agent may be the client's name, known now
		}
		return res, err
	}
}

func (l *clientLog) learn(req mcp.Request) {
	ss, ok := req.GetSession().(*mcp.ServerSession)
	if !ok || ss == nil {
		return
	}
	agent := l.srv.agentFrom(ss, req.GetExtra())
	l.mu.Lock()
	l.agents[ss] = agent
	l.mu.Unlock()
}

func (l *clientLog) run() {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case r := <-l.queue:
			l.send(r)
		}
	}
}

// send notifies every live session of r's agent.
func (l *clientLog) send(r audit.Record) {
	var targets []*mcp.ServerSession
	l.mu.Lock() // before listing the live sessions: one registered meanwhile is not forgotten as ended
	live := map[*mcp.ServerSession]bool{}
	for ss := range l.srv.mcp.Sessions() {
		live[ss] = true
	}
	for ss, agent := range l.agents {
		switch {
		case !live[ss]:
			delete(l.agents, ss) // ended: forget it
		case agent == r.Agent:
			targets = append(targets, ss)
		}
	}
	dropped := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if dropped > 0 {
		l.srv.opts.Logger.Debug("log notifications dropped: the queue was full", "dropped", dropped)
	}
	if len(targets) == 0 {
		return
	}
	params := &mcp.LoggingMessageParams{Logger: logLoggerName, Level: mcpLevel(r.Level), Data: logData(r)}
	for _, ss := range targets {
		ctx, cancel := context.WithTimeout(context.Background(), logNotifyTimeout)
		err := ss.Log(ctx, params)
		cancel()
		if err != nil {
			l.srv.opts.Logger.Debug("log notification not sent", "session", ss.ID(), "err", err)
		}
	}
}

func (l *clientLog) close() {
	l.stopOnce.Do(func() { close(l.stop) })
	<-l.done
}

// mcpLevel maps an audit level to an MCP logging level.
func mcpLevel(level string) mcp.LoggingLevel {
	switch level {
	case audit.LevelDebug:
		return "debug"
	case audit.LevelWarn:
		return "warning"
	case audit.LevelError:
		return "error"
	default:
		return "info"
	}
}

// logData is a notification's data: a one-line message and the record's
// fields that say what happened (not its arguments, environment names or
// chain fields).
func logData(r audit.Record) map[string]any {
	d := map[string]any{"event": r.Event, "message": logMessage(r)}
	set := func(k string, v any, ok bool) {
		if ok {
			d[k] = v
		}
	}
	set("tool", r.Tool, r.Tool != "")
	set("pid", r.PID, r.PID != 0)
	set("executable", r.Executable, r.Executable != "")
	set("decision", r.Decision, r.Decision != "")
	set("code", r.Code, r.Code != "")
	set("layer", r.Layer, r.Layer != "")
	set("reason", r.Reason, r.Reason != "")
	set("exitCode", r.ExitCode, r.ExitCode != nil)
	set("signal", r.Signal, r.Signal != "")
	set("terminationReason", r.TerminationReason, r.TerminationReason != "")
	set("serviceId", r.ServiceID, r.ServiceID != "")
	set("groupId", r.GroupID, r.GroupID != "")
	set("bytes", r.Bytes, r.Bytes != 0)
	return d
}

// logMessage is a record as one human-readable line.
func logMessage(r audit.Record) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(r.Event, "_", " "))
	if r.ServiceID != "" {
		fmt.Fprintf(&b, " service %s", r.ServiceID)
	}
	if r.PID != 0 {
		fmt.Fprintf(&b, " pid %d", r.PID)
	}
	if r.Executable != "" {
		fmt.Fprintf(&b, " (%s)", r.Executable)
	}
	switch {
	case r.ExitCode != nil:
		fmt.Fprintf(&b, ": exit code %d", *r.ExitCode)
	case r.Signal != "":
		fmt.Fprintf(&b, ": %s", r.Signal)
	}
	if r.TerminationReason != "" {
		fmt.Fprintf(&b, ", %s", r.TerminationReason)
	}
	if r.Code != "" {
		fmt.Fprintf(&b, ": %s", r.Code)
	}
	if r.Reason != "" {
		fmt.Fprintf(&b, ": %s", r.Reason)
	}
	return b.String()
}

// quietHandler passes the SDK's own log records to the server's log with
// INFO lowered to DEBUG: the SDK logs one INFO line per notification sent
// (every burst of output), sessions and subscriptions; warnings and errors
// keep their level.
type quietHandler struct{ slog.Handler }

func (h quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, quiet(l))
}

func (h quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = quiet(r.Level)
	return h.Handler.Handle(ctx, r)
}

func (h quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return quietHandler{h.Handler.WithAttrs(as)}
}

func (h quietHandler) WithGroup(name string) slog.Handler {
	return quietHandler{h.Handler.WithGroup(name)}
}

func quiet(l slog.Level) slog.Level {
	if l < slog.LevelWarn {
		return slog.LevelDebug
	}
	return l
}
