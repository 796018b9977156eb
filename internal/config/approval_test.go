package config

import (
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

const approverHash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")

func TestApprovalKeys(t *testing.T) {
	for _, tc := range []struct {
		name, key, want string
		mod             func(*Config)
	}{
		{"bad mode", "approvalMode", "client", func(c *Config) { c.RequireConfirmation = true; c.ApprovalMode = "browser" }},
		{"url without token", "approverTokenSha256", "openssl rand", func(c *Config) { c.RequireConfirmation = true; c.ApprovalMode = ApprovalModeURL }},
		{"token without url", "approverTokenSha256", "approvalMode", func(c *Config) { c.RequireConfirmation = true; c.ApproverTokenSha256 = approverHash }},
		{"token not hex", "approverTokenSha256", "64 hex", func(c *Config) {
			c.RequireConfirmation = true
			c.ApprovalMode, c.ApproverTokenSha256 = ApprovalModeURL, strings.Repeat("z", 64)
		}},
		{"token short", "approverTokenSha256", "64 hex", func(c *Config) {
			c.RequireConfirmation = true
			c.ApprovalMode, c.ApproverTokenSha256 = ApprovalModeURL, "abcd"
		}},
		{"token is an agent's", "approverTokenSha256", "own", func(c *Config) {
			c.RequireConfirmation = true
			c.ApprovalMode, c.ApproverTokenSha256 = ApprovalModeURL, approverHash
			c.Agents = []Agent{{ID: "bot", TokenSha256: strings.ToUpper(approverHash)}}
		}},
		{"url asks nothing", "approvalMode", "requireConfirmation", func(c *Config) { c.ApprovalMode, c.ApproverTokenSha256 = ApprovalModeURL, approverHash }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(c)
			ce := wantConfigError(t, c.Validate(), errcode.InvalidInput, tc.key)
			if !strings.Contains(ce.Remedy, tc.want) {
				t.Errorf("remedy %q does not mention %q", ce.Remedy, tc.want)
			}
		})
	}
	for _, mod := range []func(*Config){
		func(c *Config) { c.RequireConfirmation = true },
		func(c *Config) { c.RequireConfirmationFor = []string{"make"}; c.AutoApproveAfterCount = 3 },
		func(c *Config) { c.RequireTerminationConfirmation = true },
		func(c *Config) {
			c.RequireConfirmation = true
			c.ApprovalMode, c.ApproverTokenSha256 = ApprovalModeURL, approverHash
		},
	} {
		c := validConfig()
		mod(c)
		if err := c.Validate(); err != nil {
			t.Errorf("valid approval config refused: %v", err)
		}
	}
	c := validConfig()
	c.ApprovalMode, c.ApproverTokenSha256, c.RequireConfirmation = ApprovalModeURL, approverHash, true
	if got := c.Redacted().ApproverTokenSha256; got != RedactedValue {
		t.Errorf("Redacted approverTokenSha256 = %q", got)
	}
}
