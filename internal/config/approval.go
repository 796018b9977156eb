package config

import (
	"encoding/hex"
	"strings"
)

// asksHuman reports whether any key makes the server ask a person.
func (c *Config) asksHuman() bool {
	return c.RequireConfirmation || len(c.RequireConfirmationFor) > 0 || c.RequireTerminationConfirmation
}

// checkApproval validates approvalMode and approverTokenSha256 (SPEC 7.5):
// url mode needs the token's hash (the page asks for the token, so the MCP
// client cannot approve by opening the link itself) and something to ask
// about; a hash without url mode, or one equal to an agent's bearer token
// (that agent could approve its own launches), is refused.
func checkApproval(c *Config) *Error {
	if e := oneOf("approvalMode", c.ApprovalMode, ApprovalModes); e != nil {
		return e
	}
	const mk = "make one: tok=$(openssl rand -hex 32); printf %s \"$tok\" | sha256sum, and give the token to the people who approve"
	if c.ApproverTokenSha256 != "" {
		if c.ApprovalMode != ApprovalModeURL {
			return invalid("approverTokenSha256", "set approvalMode to \"url\", or remove approverTokenSha256", "is set but approvalMode is %q: only the url mode's approval page asks for the token", c.ApprovalMode)
		}
		if b, err := hex.DecodeString(c.ApproverTokenSha256); err != nil || len(b) != 32 {
			return invalid("approverTokenSha256", "set the hex SHA-256 of the approver token (64 hex characters; "+mk+")", "must be 64 hex characters (got %q)", c.ApproverTokenSha256)
		}
		for i, a := range c.Agents {
			if strings.EqualFold(a.TokenSha256, c.ApproverTokenSha256) {
				return invalid("approverTokenSha256", "give the approvers a token of their own ("+mk+")", "equals agents[%d].tokenSha256: that agent could approve its own launches", i)
			}
		}
	}
	if c.ApprovalMode == ApprovalModeURL {
		if c.ApproverTokenSha256 == "" {
			return invalid("approverTokenSha256", "set approverTokenSha256 to the hex SHA-256 of the approver token ("+mk+"), or set approvalMode to \"client\"", "is required with approvalMode \"url\": the approval page asks for the token, so that the MCP client cannot approve by opening the link itself")
		}
		if !c.asksHuman() {
			return invalid("approvalMode", "set requireConfirmation, requireConfirmationFor or requireTerminationConfirmation, or remove approvalMode", "is \"url\" but nothing asks a person (requireConfirmation, requireConfirmationFor and requireTerminationConfirmation are off)")
		}
	}
	return nil
}
