package policy

import (
	"path/filepath"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// TestNeedsApproval: requireConfirmation asks for every launch;
// requireConfirmationFor matches the resolved executable as the allowlist
// does (bare name, the name found in searchPath, glob, real path).
func TestNeedsApproval(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name  string
		exe   string
		every bool
		for_  []string
		want  bool
	}{
		{name: "off", exe: "mytrue"},
		{name: "every launch", exe: "mytrue", every: true, want: true},
		{name: "by name", exe: "mytrue", for_: []string{"mytrue"}, want: true},
		{name: "other name", exe: "mytrue", for_: []string{"other"}},
		{name: "by real path", exe: "mytrue", for_: []string{filepath.Join(f.bin, "mytrue")}, want: true},
		{name: "by absolute request", exe: filepath.Join(f.bin, "mytrue"), for_: []string{"mytrue"}, want: true},
		{name: "by glob", exe: "tool", for_: []string{"tool-*"}, want: true},
		{name: "found-as name of a link", exe: "tool", for_: []string{"tool"}, want: true},
		{name: "link's target path", exe: "tool", for_: []string{filepath.Join(f.bin, "tool-1.2")}, want: true},
		{name: "path glob", exe: "other", for_: []string{filepath.Join(f.bin, "o*")}, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.baseConfig()
			cfg.AllowedExecutables = []string{"mytrue", "other", "tool*"}
			cfg.RequireConfirmation = tc.every
			cfg.RequireConfirmationFor = tc.for_
			d := mustNew(t, cfg).Evaluate(Request{Executable: tc.exe}, noon)
			checkDecision(t, d, "", "")
			if d.NeedsApproval != tc.want {
				t.Errorf("NeedsApproval = %v, want %v", d.NeedsApproval, tc.want)
			}
		})
	}
	// A denied launch is never a question.
	cfg := f.baseConfig()
	cfg.RequireConfirmation = true
	if d := mustNew(t, cfg).Evaluate(Request{Executable: "other"}, noon); d.Allow || d.NeedsApproval {
		t.Errorf("denied launch: %+v", d)
	}
	for _, bad := range [][]string{{""}, {"bin/x"}, {"[x"}} {
		cfg := f.baseConfig()
		cfg.RequireConfirmationFor = bad
		if _, err := New(func() *config.Config { c := cfg; return &c }()); err == nil {
			t.Errorf("requireConfirmationFor %q accepted", bad)
		} else if e, ok := err.(*errcode.Error); !ok || e.Code != errcode.InvalidInput {
			t.Errorf("requireConfirmationFor %q: %v", bad, err)
		}
	}
}
