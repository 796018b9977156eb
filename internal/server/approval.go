package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/approval"
	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// The human approval layer (SPEC 3.13, 6, 7.5; docs/approval.md). A launch
// the policy marks NeedsApproval, or a termination under
// requireTerminationConfirmation, runs only after a person said yes:
//
//   - sessions before 2026-07-28: elicitation/create (form, or url in url
//     mode) from inside the tool call, bounded by confirmationTimeoutSeconds
//     and by the call itself (notifications/cancelled ends it);
//   - 2026-07-28 sessions: the call answers input_required with the same
//     elicitation as an input request and a signed requestState
//     (internal/approval); the retry carries the answer and the state.
//
// Anything but an approval is no (CONFIRMATION_DENIED): decline, cancel, an
// error, a time-out, a client that cannot be asked, an altered, replayed or
// foreign state. Every question and answer is an approval audit record; a
// refusal is also a security violation (and an alert). Nothing starts or is
// signalled before the answer.

// inputRequired is a handler's answer that is not a result yet: the
// input_required result of a multi-round-trip call (addTool sends it as is).
type inputRequired struct{ res *mcp.CallToolResult }

func (*inputRequired) Error() string { return "input required" }

// inputKey names our one input request in inputRequests/inputResponses.
const inputKey = "approval"

// decisionField is the form's one required field: a client mode that
// accepts forms without a person (empty content, or only the fields that
// have defaults) cannot fill it. "deny" comes first for clients that pick
// the first choice.
const decisionField = "decision"

var approvalSchema = map[string]any{
	"type": "object",
	"properties": map[string]any{
		decisionField: map[string]any{
			"type":        "string",
			"title":       "Decision",
			"description": "approve: run it once. deny: refuse it.",
			"enum":        []any{"deny", "approve"},
		},
	},
	"required": []any{decisionField},
}

// multiRoundTripVersion is the first protocol revision whose sessions are
// asked with input requests instead of server-initiated requests.
const multiRoundTripVersion = "2026-07-28"

// admitLaunch runs the policy for a launch and, when it needs approval,
// asks (see above). The returned error is an *errcode.Error or an
// *inputRequired.
func (s *Server) admitLaunch(ctx context.Context, c *call, req policy.Request) (*policy.Spec, error) {
	d := s.opts.Policy.Evaluate(req, s.now())
	if !d.Allow {
		return nil, d.Err
	}
	if !d.NeedsApproval {
		return d.Spec, nil
	}
	q := &approval.Question{Action: approval.ActionLaunch, Agent: c.agent, Tool: c.tool,
		Executable: d.Spec.Path, Args: d.Spec.Argv[1:], Cwd: d.Spec.Dir,
		Limits: describeLimits(d.Spec), Sandbox: s.sandboxProfile(), Arguments: c.req.Params.Arguments}
	if c.tool == "process_start_service" {
		q.Detail = "A service: its restarts and health checks run under this one approval."
	}
	if err := s.confirm(ctx, c, q); err != nil {
		return nil, err
	}
	return d.Spec, nil
}

// confirmTermination asks before a termination under
// requireTerminationConfirmation; target says what would be signalled.
func (s *Server) confirmTermination(ctx context.Context, c *call, target string) error {
	if !s.cfg.RequireTerminationConfirmation {
		return nil
	}
	return s.confirm(ctx, c, &approval.Question{Action: approval.ActionTerminate, Agent: c.agent, Tool: c.tool,
		Target: target, Arguments: c.req.Params.Arguments})
}

// confirm asks a person about q and returns nil only for an approval.
func (s *Server) confirm(ctx context.Context, c *call, q *approval.Question) error {
	a := s.opts.Approver
	if a == nil {
		return s.denied(c, q, "", "the server has no approval set up (internal)")
	}
	launch := q.Action == approval.ActionLaunch
	if launch {
		auto, n := a.AutoApproved(c.agent, q.Executable)
		q.Count, q.AutoApproveAfter = n, a.AutoApproveAfter()
		if auto {
			return s.recordApproval(c, q, "allow", approval.ChannelAuto,
				fmt.Sprintf("approved without asking: a person approved %d launches of this executable by this agent (autoApproveAfterCount %d)", n, a.AutoApproveAfter()))
		}
	}
	var o outcome
	var err error
	if s.multiRoundTrip(c) {
		o, err = s.askMultiRoundTrip(ctx, c, q)
	} else {
		o, err = s.askElicitation(ctx, c, q)
	}
	if err != nil {
		return err // input_required, or an audit failure
	}
	if !o.approved {
		return s.denied(c, q, o.channel, o.reason)
	}
	reason := o.reason
	if launch {
		n := a.CountApproved(c.agent, q.Executable)
		if q.AutoApproveAfter > 0 {
			reason += fmt.Sprintf(" (%d of %d approvals before this executable runs for this agent without asking)", n, q.AutoApproveAfter)
		}
	}
	return s.recordApproval(c, q, "allow", o.channel, reason)
}

// outcome is a person's answer as the server understood it.
type outcome struct {
	approved bool
	channel  string
	reason   string
}

// multiRoundTrip reports whether c's session negotiated 2026-07-28 or
// later (the SDK's own test for sending input_required).
func (s *Server) multiRoundTrip(c *call) bool {
	if c.req.Session == nil {
		return false
	}
	p := c.req.Session.InitializeParams()
	return p != nil && p.ProtocolVersion >= multiRoundTripVersion
}

// canAsk reports whether the client declared the elicitation mode.
func canAsk(caps *mcp.ClientCapabilities, mode string) bool {
	if caps == nil || caps.Elicitation == nil {
		return false
	}
	if mode == "url" {
		return caps.Elicitation.URL != nil
	}
	return caps.Elicitation.Form != nil || caps.Elicitation.URL == nil // {} means form
}

func (s *Server) channelOf(mrtr bool) string {
	switch {
	case s.opts.Approver.Mode() == approval.ModeURL && mrtr:
		return approval.ChannelMRTRURL
	case s.opts.Approver.Mode() == approval.ModeURL:
		return approval.ChannelURL
	case mrtr:
		return approval.ChannelMRTR
	}
	return approval.ChannelForm
}

func (s *Server) elicitMode() string {
	if s.opts.Approver.Mode() == approval.ModeURL {
		return "url"
	}
	return "form"
}

// askElicitation asks with elicitation/create from inside the call.
func (s *Server) askElicitation(ctx context.Context, c *call, q *approval.Question) (outcome, error) {
	a := s.opts.Approver
	ch := s.channelOf(false)
	if c.req.Session == nil || !canAsk(c.req.ClientCapabilities(), s.elicitMode()) {
		return outcome{channel: ch, reason: "the client cannot be asked: it did not declare " + s.elicitMode() + "-mode elicitation"}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.Timeout())
	defer cancel()
	params := &mcp.ElicitParams{Mode: "form", Message: q.Message(), RequestedSchema: approvalSchema}
	var page *approval.Page
	if a.Mode() == approval.ModeURL {
		p, err := a.OpenPage(*q)
		if err != nil {
			return outcome{channel: ch, reason: "no approval page: " + err.Error()}, nil
		}
		page = p
		params = &mcp.ElicitParams{Mode: "url", Message: urlMessage(q), URL: p.URL, ElicitationID: p.ID}
	}
	if err := s.recordApproval(c, q, "ask", ch, "asked the client ("+s.elicitMode()+" elicitation)"); err != nil {
		if page != nil {
			a.ClosePage(page, "the question could not be recorded")
		}
		return outcome{}, err
	}
	res, err := c.req.Session.Elicit(ctx, params)
	if o, done := elicitAnswer(ctx, res, err, ch, page != nil); done {
		if page != nil {
			a.ClosePage(page, o.reason)
		}
		return o, nil
	}
	if page == nil {
		return outcome{approved: true, channel: ch, reason: "approved through form elicitation"}, nil
	}
	po := a.Wait(ctx, page)
	s.elicitationComplete(c, page)
	return outcome{approved: po.Approved, channel: ch, reason: pageReason(ctx, po)}, nil
}

// elicitAnswer reads an elicitation's answer: done with the outcome when
// it is no (or, in url mode, not yet an approval: the page decides).
func elicitAnswer(ctx context.Context, res *mcp.ElicitResult, err error, ch string, urlMode bool) (outcome, bool) {
	switch {
	case err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
		return outcome{channel: ch, reason: "no answer within confirmationTimeoutSeconds"}, true
	case err != nil && ctx.Err() != nil:
		return outcome{channel: ch, reason: "the tool call was cancelled while waiting for the answer"}, true
	case err != nil:
		return outcome{channel: ch, reason: "the client failed to ask: " + err.Error()}, true
	case res == nil:
		return outcome{channel: ch, reason: "the client sent no answer"}, true
	case res.Action == "decline":
		return outcome{channel: ch, reason: "declined"}, true
	case res.Action == "cancel":
		return outcome{channel: ch, reason: "cancelled (dismissed without a choice)"}, true
	case res.Action != "accept":
		return outcome{channel: ch, reason: fmt.Sprintf("unknown answer %q", res.Action)}, true
	case urlMode:
		return outcome{}, false // the person opens the page; it decides
	}
	if d, _ := res.Content[decisionField].(string); d != "approve" {
		if d == "" {
			return outcome{channel: ch, reason: "accepted without the required decision field"}, true
		}
		return outcome{channel: ch, reason: fmt.Sprintf("the decision was %q", d)}, true
	}
	return outcome{}, false
}

func pageReason(ctx context.Context, po approval.Outcome) string {
	if !po.Approved && ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "no decision on the approval page within confirmationTimeoutSeconds"
	}
	return po.Reason
}

func urlMessage(q *approval.Question) string {
	return q.Message() + "\nOpen the link to decide on the server's approval page (it asks for the approver token)."
}

// elicitationComplete tells a url-mode client the page is done (best effort).
func (s *Server) elicitationComplete(c *call, page *approval.Page) {
	if c.req.Session == nil || s.multiRoundTrip(c) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.req.Session.NotifyElicitationComplete(ctx, &mcp.ElicitationCompleteParams{ElicitationID: page.ID})
}

// askMultiRoundTrip asks with an input request (first round) or reads the
// answer of the retry.
func (s *Server) askMultiRoundTrip(ctx context.Context, c *call, q *approval.Question) (outcome, error) {
	a := s.opts.Approver
	ch := s.channelOf(true)
	bind := a.Bind(q)
	if st := c.req.Params.RequestState; st != "" {
		pageID, err := a.CheckState(st, bind)
		var page *approval.Page
		if pageID != "" {
			page = a.LookupPage(pageID)
		}
		if err != nil {
			if page != nil {
				a.ClosePage(page, err.Error())
			}
			return outcome{channel: ch, reason: err.Error()}, nil
		}
		res, _ := c.req.Params.InputResponses[inputKey].(*mcp.ElicitResult)
		if res == nil {
			if page != nil {
				a.ClosePage(page, "no answer")
			}
			return outcome{channel: ch, reason: "the retry carries no answer to the approval input request"}, nil
		}
		if o, done := elicitAnswer(ctx, res, nil, ch, a.Mode() == approval.ModeURL); done {
			if page != nil {
				a.ClosePage(page, o.reason)
			}
			return o, nil
		}
		if a.Mode() != approval.ModeURL {
			return outcome{approved: true, channel: ch, reason: "approved through the input request (form)"}, nil
		}
		if page == nil {
			return outcome{channel: ch, reason: "the approval page expired"}, nil
		}
		po := a.Wait(ctx, page)
		return outcome{approved: po.Approved, channel: ch, reason: pageReason(ctx, po)}, nil
	}
	if !canAsk(c.req.ClientCapabilities(), s.elicitMode()) {
		return outcome{channel: ch, reason: "the client cannot be asked: it did not declare " + s.elicitMode() + "-mode elicitation"}, nil
	}
	req := &mcp.ElicitParams{Mode: "form", Message: q.Message(), RequestedSchema: approvalSchema}
	pageID := ""
	if a.Mode() == approval.ModeURL {
		p, err := a.OpenPage(*q)
		if err != nil {
			return outcome{channel: ch, reason: "no approval page: " + err.Error()}, nil
		}
		pageID = p.ID
		req = &mcp.ElicitParams{Mode: "url", Message: urlMessage(q), URL: p.URL, ElicitationID: p.ID}
	}
	state, err := a.IssueState(bind, pageID)
	if err != nil {
		return outcome{channel: ch, reason: err.Error()}, nil
	}
	if err := s.recordApproval(c, q, "ask", ch, "asked the client (input request, "+s.elicitMode()+" mode)"); err != nil {
		return outcome{}, err
	}
	return outcome{}, &inputRequired{res: &mcp.CallToolResult{
		InputRequests: mcp.InputRequestMap{inputKey: req}, RequestState: state}}
}

// recordApproval writes an approval record; for "allow" a failure is the
// call's INTERNAL error (nothing runs unrecorded).
func (s *Server) recordApproval(c *call, q *approval.Question, decision, channel, reason string) error {
	rec := audit.Record{Level: audit.LevelInfo, Event: audit.EventApproval, Agent: c.agent, Tool: c.tool,
		Decision: decision, Channel: channel, Reason: reason, Layer: layer.Approval.String()}
	if q.Action == approval.ActionLaunch {
		rec.Executable, rec.Args, rec.Cwd = q.Executable, q.Args, q.Cwd
	} else {
		rec.PID = c.pid
		rec.Reason = q.Target + ": " + reason
	}
	if err := s.record(rec); err != nil {
		return errcode.Fail(errcode.Internal, layer.Audit, "check that the audit log is writable", "audit record could not be written: %v", err)
	}
	return nil
}

// denied records the answer and returns CONFIRMATION_DENIED (the caller's
// fail records the security violation).
func (s *Server) denied(c *call, q *approval.Question, channel, reason string) error {
	if err := s.recordApproval(c, q, "deny", channel, reason); err != nil {
		return err
	}
	what := "the launch"
	if q.Action == approval.ActionTerminate {
		what = "the termination"
	}
	return errcode.Deny(errcode.ConfirmationDenied, policy.LayerApproval,
		"ask the person who approves to accept it (the client must support "+s.elicitModeOr()+" elicitation), or use an executable that needs no approval",
		"%s was not approved: %s", what, reason)
}

func (s *Server) elicitModeOr() string {
	if s.opts.Approver == nil {
		return "form"
	}
	return s.elicitMode()
}

// describeLimits is the launch's limits as a person reads them.
func describeLimits(sp *policy.Spec) string {
	l := sp.Limits
	var parts []string
	add := func(v int64, f string) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf(f, v))
		}
	}
	add(int64(l.MaxCpuPercent), "CPU %d%%")
	add(int64(l.MaxMemoryMB), "memory %d MB")
	add(int64(l.MaxFileDescriptors), "%d file descriptors")
	add(int64(l.MaxCpuTime), "CPU time %d s")
	add(int64(l.MaxProcesses), "%d processes")
	if sp.Lifetime > 0 {
		parts = append(parts, "lifetime "+sp.Lifetime.String())
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// sandboxProfile is the isolation every child gets, in the init stage's
// order, as process_get_policy reports it (else the layers enforced).
func (s *Server) sandboxProfile() string {
	l := s.opts.Layers
	if v := l["isolation"]; v != "" {
		return v
	}
	var on []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		if l[k] == "enforced" {
			on = append(on, k)
		}
	}
	if len(on) == 0 {
		return "see process_get_policy"
	}
	return "layers enforced: " + strings.Join(on, ", ")
}

// confirmProcessTermination asks before process_terminate signals a
// running process of the agent's (nothing to ask when the policy or the
// process's state decides already: the supervisor answers).
func (s *Server) confirmProcessTermination(ctx context.Context, c *call, pid int, force bool, timeout time.Duration) error {
	if !s.cfg.RequireTerminationConfirmation || s.opts.Supervisor.CheckTermination(false, force) != nil {
		return nil
	}
	st, err := s.opts.Supervisor.Status(c.agent, pid)
	if err != nil || st.State != "running" {
		return nil
	}
	how := fmt.Sprintf("SIGTERM, then SIGKILL after %s", timeout)
	if force {
		how = "SIGKILL at once"
	}
	return s.confirmTermination(ctx, c, fmt.Sprintf("terminate pid %d (%s %s) and its whole tree with %s",
		pid, st.Command, quoteList(st.Args), how))
}

// confirmGroupTermination asks before process_terminate_group signals
// running members.
func (s *Server) confirmGroupTermination(ctx context.Context, c *call, groupID string, force bool) error {
	if !s.cfg.RequireTerminationConfirmation || s.opts.Supervisor.CheckTermination(true, force) != nil {
		return nil
	}
	var members []string
	for _, st := range s.opts.Supervisor.List(c.agent, "running") {
		if st.GroupID == groupID {
			members = append(members, fmt.Sprintf("pid %d (%s)", st.Pid, st.Command))
		}
	}
	if len(members) == 0 {
		return nil
	}
	how := "SIGTERM, then SIGKILL"
	if force {
		how = "SIGKILL at once"
	}
	return s.confirmTermination(ctx, c, fmt.Sprintf("terminate group %s with %s: %s", groupID, how, strings.Join(members, ", ")))
}

// confirmServiceStop asks before process_stop_service stops a service.
func (s *Server) confirmServiceStop(ctx context.Context, c *call, serviceID string) error {
	if !s.cfg.RequireTerminationConfirmation || s.opts.Supervisor.CheckTermination(false, false) != nil {
		return nil
	}
	st, err := s.opts.Supervisor.GetService(c.agent, serviceID)
	if err != nil || st.State == "stopped" || st.State == "failed" {
		return nil
	}
	return s.confirmTermination(ctx, c, fmt.Sprintf("stop service %q (pid %d, no restart) and its whole tree", serviceID, st.Pid))
}

func quoteList(args []string) string {
	if len(args) == 0 {
		return ""
	}
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%q", a)
	}
	return b.String()
}
