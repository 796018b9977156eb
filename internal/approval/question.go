package approval

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
)

// Actions.
const (
	ActionLaunch    = "launch"
	ActionTerminate = "terminate"
)

// Question is what a person is asked: the same facts in the elicitation
// message and on the approval page.
type Question struct {
	Action string // ActionLaunch or ActionTerminate
	Agent  string
	Tool   string
	// Launch: the resolved executable (real path), its arguments, working
	// directory, limits and sandbox profile.
	Executable string
	Args       []string
	Cwd        string
	Limits     string
	Sandbox    string
	// Terminate: what would be signalled.
	Target string
	// Detail is one more line for the person (e.g. what a service implies).
	Detail string
	// Count: a person approved this many launches of Executable by Agent
	// so far, and at AutoApproveAfter (if > 0) they stop being asked.
	Count, AutoApproveAfter int
	// Arguments are the tool call's arguments as sent (bound into the state).
	Arguments json.RawMessage
}

// Message is the question as text (the elicitation's message).
func (q *Question) Message() string {
	var b strings.Builder
	if q.Action == ActionTerminate {
		fmt.Fprintf(&b, "Agent %q asks to %s (%s).\n", q.Agent, q.Target, q.Tool)
	} else {
		fmt.Fprintf(&b, "Agent %q asks to run a process (%s).\n", q.Agent, q.Tool)
		fmt.Fprintf(&b, "Executable: %s\n", q.Executable)
		fmt.Fprintf(&b, "Arguments: %s\n", quoteArgs(q.Args))
		fmt.Fprintf(&b, "Working directory: %s\n", q.Cwd)
		fmt.Fprintf(&b, "Limits: %s\n", q.Limits)
		fmt.Fprintf(&b, "Sandbox: %s\n", q.Sandbox)
		if q.AutoApproveAfter > 0 {
			fmt.Fprintf(&b, "Approved so far: %d of %d (after %d approvals this executable runs for this agent without asking, until the server restarts)\n",
				q.Count, q.AutoApproveAfter, q.AutoApproveAfter)
		}
	}
	if q.Detail != "" {
		b.WriteString(q.Detail + "\n")
	}
	b.WriteString("Choose approve to allow it once; anything else refuses it.")
	return b.String()
}

// quoteArgs shows arguments unambiguously (JSON strings).
func quoteArgs(args []string) string {
	if len(args) == 0 {
		return "(none)"
	}
	b, _ := json.Marshal(args)
	return string(b)
}

// Binding identifies one exact request: a requestState is valid for it only.
type Binding [32]byte

// Bind is the binding of q under the approver's policy version: SHA-256 of
// the canonical JSON of agent, tool, the call's arguments (members sorted,
// numbers as sent), working directory and policy version.
func (a *Approver) Bind(q *Question) Binding {
	var args any
	if len(q.Arguments) > 0 {
		d := json.NewDecoder(bytes.NewReader(q.Arguments))
		d.UseNumber()
		if err := d.Decode(&args); err != nil {
			args = string(q.Arguments) // bound as sent
		}
	}
	b, _ := json.Marshal(struct {
		V      int    `json:"v"`
		Policy string `json:"policy"`
		Agent  string `json:"agent"`
		Tool   string `json:"tool"`
		Args   any    `json:"arguments"`
		Cwd    string `json:"cwd"`
		Action string `json:"action"`
	}{1, a.opts.PolicyVersion, q.Agent, q.Tool, args, q.Cwd, q.Action})
	return sha256.Sum256(b)
}
