// Package approval asks a person before a launch or a termination runs
// (SPEC 3.13, 6 and 7.5): it builds the question, signs and checks the
// multi-round-trip requestState, keeps the one-time approval pages of the
// url mode, and counts approved launches for autoApproveAfterCount. It
// talks no MCP: the server sends the questions (internal/server/approval.go).
//
// Guarantees: a requestState is HMAC-SHA256-signed with a key drawn at
// random when the Approver is made (never stored), bound to the exact
// request (agent, tool, canonical arguments, working directory, policy
// version), carries a nonce that is accepted once and an expiry of
// confirmationTimeoutSeconds; an altered, foreign, replayed, expired or
// other request's state is refused. An approval page decides only with the
// approver token (compared as SHA-256, in constant time), once: a used or
// expired link answers 410, and five wrong tokens deny the request. Pages
// and nonces expire with their question; nothing here starts a goroutine.
// The auto-approval counts live in memory and start from 0 at every start.
package approval

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Modes (config.ApprovalModeClient, config.ApprovalModeURL).
const (
	ModeClient = "client"
	ModeURL    = "url"
)

// Channels: how a question was asked and answered (the audit record's channel).
const (
	ChannelForm    = "elicitation-form" // elicitation/create, form mode
	ChannelMRTR    = "mrtr-form"        // input request of a 2026-07-28 tools/call, form mode
	ChannelURL     = "elicitation-url"  // elicitation/create, url mode, then the approval page
	ChannelMRTRURL = "mrtr-url"         // input request, url mode, then the approval page
	ChannelAuto    = "auto"             // autoApproveAfterCount
)

// maxOutstanding bounds the questions awaiting an answer (nonces and pages):
// past it new questions are refused (no).
const maxOutstanding = 1024

// Options configure an Approver.
type Options struct {
	Mode string // ModeClient (default) or ModeURL
	// Timeout bounds every question (confirmationTimeoutSeconds).
	Timeout time.Duration
	// TokenSha256 is the hex SHA-256 of the approver token (url mode).
	TokenSha256 string
	// AutoApproveAfter is autoApproveAfterCount (0 = always ask).
	AutoApproveAfter int
	// PolicyVersion identifies the policy a state was issued under.
	PolicyVersion string
	// Now is the clock (nil = time.Now).
	Now func() time.Time
}

// Approver holds the signing key, the outstanding nonces and pages and the
// approval counts. Safe for concurrent use.
type Approver struct {
	opts  Options
	key   [32]byte
	token []byte // sha256 of the approver token (url mode)

	mu     sync.Mutex
	nonces map[string]time.Time // issued, not yet used -> expiry
	pages  map[string]*Page
	counts map[countKey]int
	base   string // the approval pages' base URL ("http://127.0.0.1:PORT")
}

// New makes an Approver with a fresh random key.
func New(o Options) (*Approver, error) {
	if o.Mode == "" {
		o.Mode = ModeClient
	}
	if o.Timeout <= 0 {
		o.Timeout = 120 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Approver{opts: o, nonces: map[string]time.Time{}, pages: map[string]*Page{}, counts: map[countKey]int{}}
	if _, err := rand.Read(a.key[:]); err != nil {
		return nil, err
	}
	if o.Mode == ModeURL {
		t, err := hex.DecodeString(o.TokenSha256)
		if err != nil || len(t) != 32 {
			return nil, errors.New("approval: url mode needs approverTokenSha256 (64 hex characters)")
		}
		a.token = t
	}
	return a, nil
}

// Mode is ModeClient or ModeURL.
func (a *Approver) Mode() string { return a.opts.Mode }

// Timeout bounds every question.
func (a *Approver) Timeout() time.Duration { return a.opts.Timeout }

func randomID() string {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// sweep drops expired nonces and pages. a.mu is held.
func (a *Approver) sweep(now time.Time) {
	for n, exp := range a.nonces {
		if !now.Before(exp) {
			delete(a.nonces, n)
		}
	}
	for id, p := range a.pages {
		if !now.Before(p.deadline) {
			p.decide(Outcome{Reason: "no decision on the approval page within confirmationTimeoutSeconds"})
			delete(a.pages, id)
		}
	}
}

// countKey is one agent's one resolved executable.
type countKey struct{ agent, path string }

// AutoApproved reports whether launches of path by agent no longer need a
// question (autoApproveAfterCount approvals so far) and how many a person
// approved.
func (a *Approver) AutoApproved(agent, path string) (bool, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.counts[countKey{agent, path}]
	return a.opts.AutoApproveAfter > 0 && n >= a.opts.AutoApproveAfter, n
}

// CountApproved counts one launch of path by agent that a person approved
// and returns the count.
func (a *Approver) CountApproved(agent, path string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	k := countKey{agent, path}
	a.counts[k]++
	return a.counts[k]
}

// AutoApproveAfter is autoApproveAfterCount.
func (a *Approver) AutoApproveAfter() int { return a.opts.AutoApproveAfter }
