//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Human approval (docs/approval.md) through the TypeScript SDK's Client:
// it negotiates 2025-11-25, so the server asks with elicitation/create in
// form mode while callTool is pending, and the client's
// setRequestHandler(ElicitRequestSchema) answers. What the agent sees is
// what callTool returns: the approved process's result, or the refusal's
// JSON in content[0].text (and no structuredContent, SPEC 7.3). What the
// operator sees is the audit log: the question, the answer, the launch or
// the violation.

// tsMarker is an argument no other launch of the test run has.
func tsMarker() string { return fmt.Sprintf("ts-approval-%d-%d", os.Getpid(), markers.Add(1)) }

// recordsWithArg returns the records of event whose args[0] is marker.
func recordsWithArg(recs []map[string]any, event, marker string) []map[string]any {
	var out []map[string]any
	for _, r := range recordsOf(recs, event) {
		if args, _ := r["args"].([]any); len(args) > 0 && args[0] == marker {
			out = append(out, r)
		}
	}
	return out
}

// tsToolError decodes the refusal an agent behind the TypeScript SDK reads:
// content[0].text's JSON (checkTSReport has checked its flat fields).
func tsToolError(t *testing.T, what string, o tsOutcome) toolError {
	t.Helper()
	if o.Threw || !o.Result.IsError || len(o.Result.Content) == 0 || o.Result.Content[0].Type != "text" {
		t.Fatalf("%s: want an isError result with text content, got %+v", what, o)
	}
	if len(o.Result.StructuredContent) != 0 && string(o.Result.StructuredContent) != "null" {
		t.Errorf("%s: a refusal carries structuredContent %s (the TypeScript SDK would validate it against the outputSchema)", what, o.Result.StructuredContent)
	}
	var v struct {
		Error toolError `json:"error"`
	}
	if err := json.Unmarshal([]byte(o.Result.Content[0].Text), &v); err != nil {
		t.Fatalf("%s: content[0].text is not the error JSON: %v: %q", what, err, o.Result.Content[0].Text)
	}
	return v.Error
}

// checkTSDenied: the refusal as the agent reads it, and its audit records
// (approval deny and security_violation, both saying why), and no launch.
func checkTSDenied(t *testing.T, e *testEnv, o tsOutcome, marker, why, agent string) {
	t.Helper()
	te := tsToolError(t, "refused "+marker, o)
	if te.Code != "CONFIRMATION_DENIED" || te.Layer != "approval" || !strings.Contains(te.Message, why) ||
		!strings.Contains(te.Remedy, "elicitation") {
		t.Errorf("refusal of %s: %+v, want CONFIRMATION_DENIED [approval] saying %q, its remedy naming elicitation", marker, te, why)
	}
	recs := e.auditRecords(t)
	var deny bool
	for _, r := range recordsWithArg(recs, "approval", marker) {
		if r["decision"] == "deny" && strings.Contains(fmt.Sprint(r["reason"]), why) && (agent == "" || r["agent"] == agent) {
			deny = true
		}
	}
	var violation bool
	for _, r := range recordsOf(recs, "security_violation") {
		if r["code"] == "CONFIRMATION_DENIED" && strings.Contains(fmt.Sprint(r["reason"]), why) && strings.Contains(mustJSON(r), marker) {
			violation = true
		}
	}
	if !deny || !violation {
		t.Errorf("audit for %s: approval deny %v, security_violation %v, want both saying %q\n%s", marker, deny, violation, why, mustJSON(recordsOf(recs, "approval")))
	}
	if l := recordsWithArg(recs, "launch", marker); len(l) != 0 {
		t.Errorf("refused %s has a launch record: %v", marker, l)
	}
}

// tsApprovalCase runs the approval cases through one transport. plan is
// the transport half of client.mjs's plan; agent is the agent id the
// audit records carry ("" = not checked).
func tsApprovalCase(t *testing.T, e *testEnv, plan func() map[string]any, agent string) {
	echo, err := filepath.EvalSymlinks("/bin/echo")
	if err != nil {
		t.Fatal(err)
	}
	yes, no, untouched := tsMarker(), tsMarker(), tsMarker()
	run := func(m string) map[string]any {
		return map[string]any{"executable": "/bin/echo", "args": []string{m}}
	}
	calls := []tsCall{
		{Name: "process_run", Arguments: run(yes), Elicit: map[string]any{"action": "accept", "content": map[string]any{"decision": "approve"}}},
		{Name: "process_run", Arguments: run(no), Elicit: map[string]any{"action": "decline"}, wantCode: "CONFIRMATION_DENIED"},
		// applyDefaults fills what has a default: decision has none, so
		// an accept of the untouched form approves nothing.
		{Name: "process_run", Arguments: run(untouched), Elicit: map[string]any{"action": "accept", "content": map[string]any{}}, wantCode: "CONFIRMATION_DENIED"},
	}
	p := plan()
	p["capabilities"] = map[string]any{"elicitation": map[string]any{"form": map[string]any{"applyDefaults": true}}}
	rep := runTSClient(t, e, p, calls)
	checkTSReport(t, rep, calls)

	// Each launch was asked about once, in form mode, showing the facts.
	for i, m := range []string{yes, no, untouched} {
		qs := rep.Results[i].Elicitations
		if len(qs) != 1 {
			t.Errorf("%s: %d questions, want 1: %v", m, len(qs), qs)
			continue
		}
		q := qs[0]
		msg, _ := q["message"].(string)
		if q["mode"] != "form" || !strings.Contains(msg, echo) || !strings.Contains(msg, m) || !strings.Contains(msg, e.work) {
			t.Errorf("%s: question %v, want form mode showing %s, the argument and %s", m, q, echo, e.work)
		}
		if s := mustJSON(q["requestedSchema"]); !strings.Contains(s, `"required":["decision"]`) {
			t.Errorf("%s: form without the required decision field: %s", m, s)
		}
	}

	// Accepted: the process ran, its output and exit code in the result.
	var ran runResult
	if err := json.Unmarshal(rep.Results[0].Result.StructuredContent, &ran); err != nil {
		t.Fatalf("approved run: %v", err)
	}
	if ran.ExitCode == nil || *ran.ExitCode != 0 || ran.Stdout != yes+"\n" {
		t.Errorf("approved run: exit %v stdout %q, want 0 and %q", ran.ExitCode, ran.Stdout, yes+"\n")
	}
	recs := e.auditRecords(t)
	var ask, allow bool
	for _, r := range recordsWithArg(recs, "approval", yes) {
		if r["channel"] == "elicitation-form" && r["executable"] == echo && (agent == "" || r["agent"] == agent) {
			ask = ask || r["decision"] == "ask"
			allow = allow || r["decision"] == "allow"
		}
	}
	if !ask || !allow {
		t.Errorf("approved run: approval records ask %v allow %v, want both (channel elicitation-form)\n%s", ask, allow, mustJSON(recordsOf(recs, "approval")))
	}
	if l := recordsWithArg(recs, "launch", yes); len(l) != 1 || (agent != "" && l[0]["agent"] != agent) {
		t.Errorf("approved run: launch records %v, want one", l)
	}

	checkTSDenied(t, e, rep.Results[1], no, "declined", agent)
	checkTSDenied(t, e, rep.Results[2], untouched, "client failed to ask", agent)

	// A client without the elicitation capability is never asked: the
	// launch is refused, saying so, and the remedy names the fix.
	none := tsMarker()
	calls = []tsCall{{Name: "process_run", Arguments: run(none), wantCode: "CONFIRMATION_DENIED"}}
	rep = runTSClient(t, e, plan(), calls)
	checkTSReport(t, rep, calls)
	if n := len(rep.Results[0].Elicitations); n != 0 {
		t.Errorf("a client without elicitation was asked %d times", n)
	}
	checkTSDenied(t, e, rep.Results[0], none, "cannot be asked: it did not declare form-mode elicitation", agent)
}

func tsApprovalConfig(e *testEnv) map[string]any {
	cfg := e.config("/bin/echo")
	cfg["requireConfirmation"] = true
	cfg["confirmationTimeoutSeconds"] = 30
	return cfg
}

func TestTSClientApprovalStdio(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", tsApprovalConfig(e))
	tsApprovalCase(t, e, func() map[string]any {
		return map[string]any{"transport": "stdio", "command": serverBin, "args": []string{"serve", "--config", path}, "cwd": e.work}
	}, "")
}

func TestTSClientApprovalHTTP(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	cfg := tsApprovalConfig(e)
	cfg["agents"] = []map[string]string{{"id": "ts-agent", "tokenSha256": tokenHash("ts-token")}}
	_, url := startHTTPServer(t, e, cfg)
	tsApprovalCase(t, e, func() map[string]any {
		return map[string]any{"transport": "http", "url": url, "token": "ts-token"}
	}, "ts-agent")
}

// tsApprovalURLCase: approvalMode url. The client declares url-mode
// elicitation; the person opens the one-time link and decides on the
// server's page with the approver token (client.mjs posts the form); the
// client's accept alone only says the link was opened. A client that
// declares form mode only is never asked.
func tsApprovalURLCase(t *testing.T, e *testEnv, plan func() map[string]any, agent string) {
	yes, no, formOnly := tsMarker(), tsMarker(), tsMarker()
	run := func(m string) map[string]any {
		return map[string]any{"executable": "/bin/echo", "args": []string{m}}
	}
	person := func(decision string) map[string]any {
		return map[string]any{"action": "accept", "page": map[string]any{"token": approverToken, "decision": decision}}
	}
	calls := []tsCall{
		{Name: "process_run", Arguments: run(yes), Elicit: person("approve")},
		{Name: "process_run", Arguments: run(no), Elicit: person("deny"), wantCode: "CONFIRMATION_DENIED"},
	}
	p := plan()
	p["capabilities"] = map[string]any{"elicitation": map[string]any{"url": map[string]any{}}}
	rep := runTSClient(t, e, p, calls)
	checkTSReport(t, rep, calls)
	for i, m := range []string{yes, no} {
		qs := rep.Results[i].Elicitations
		if len(qs) != 1 {
			t.Errorf("%s: %d questions, want 1: %v", m, len(qs), qs)
			continue
		}
		if u, _ := qs[0]["url"].(string); qs[0]["mode"] != "url" || !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.Contains(u, "/approval/") {
			t.Errorf("%s: question %v, want url mode with a loopback approval link", m, qs[0])
		}
		if qs[0]["pageStatus"] != float64(200) {
			t.Errorf("%s: the page answered the approver's decision with %v, want 200", m, qs[0]["pageStatus"])
		}
	}
	var ran runResult
	if err := json.Unmarshal(rep.Results[0].Result.StructuredContent, &ran); err != nil {
		t.Fatalf("approved run: %v", err)
	}
	if ran.ExitCode == nil || *ran.ExitCode != 0 || ran.Stdout != yes+"\n" {
		t.Errorf("approved run: exit %v stdout %q, want 0 and %q", ran.ExitCode, ran.Stdout, yes+"\n")
	}
	recs := e.auditRecords(t)
	var allow bool
	for _, r := range recordsWithArg(recs, "approval", yes) {
		allow = allow || (r["decision"] == "allow" && r["channel"] == "elicitation-url" && strings.Contains(fmt.Sprint(r["reason"]), "approver token") && (agent == "" || r["agent"] == agent))
	}
	if !allow || len(recordsWithArg(recs, "launch", yes)) != 1 {
		t.Errorf("approved on the page: allow record (channel elicitation-url) %v, launch records %d, want both\n%s", allow, len(recordsWithArg(recs, "launch", yes)), mustJSON(recordsOf(recs, "approval")))
	}
	checkTSDenied(t, e, rep.Results[1], no, "denied on the approval page", agent)

	calls = []tsCall{{Name: "process_run", Arguments: run(formOnly), wantCode: "CONFIRMATION_DENIED"}}
	p = plan()
	p["capabilities"] = map[string]any{"elicitation": map[string]any{"form": map[string]any{}}}
	rep = runTSClient(t, e, p, calls)
	checkTSReport(t, rep, calls)
	if n := len(rep.Results[0].Elicitations); n != 0 {
		t.Errorf("a form-only client was asked %d times in url mode", n)
	}
	checkTSDenied(t, e, rep.Results[0], formOnly, "did not declare url-mode elicitation", agent)
}

func tsApprovalURLConfig(e *testEnv) map[string]any {
	cfg := tsApprovalConfig(e)
	cfg["approvalMode"] = "url"
	cfg["approverTokenSha256"] = approverHash()
	return cfg
}

func TestTSClientApprovalURLStdio(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	path := e.writeConfig(t, "config.json", tsApprovalURLConfig(e))
	tsApprovalURLCase(t, e, func() map[string]any {
		return map[string]any{"transport": "stdio", "command": serverBin, "args": []string{"serve", "--config", path}, "cwd": e.work}
	}, "")
}

func TestTSClientApprovalURLHTTP(t *testing.T) {
	t.Parallel()
	tsClient(t)
	e := newEnv(t)
	cfg := tsApprovalURLConfig(e)
	cfg["agents"] = []map[string]string{{"id": "ts-agent", "tokenSha256": tokenHash("ts-token")}}
	_, url := startHTTPServer(t, e, cfg)
	tsApprovalURLCase(t, e, func() map[string]any {
		return map[string]any{"transport": "http", "url": url, "token": "ts-token"}
	}, "ts-agent")
}
