package approval

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
)

// Errors of CheckState. Each means no.
var (
	ErrStateForged   = errors.New("requestState was not issued by this server or was altered")
	ErrStateExpired  = errors.New("requestState expired: no answer within confirmationTimeoutSeconds")
	ErrStateOther    = errors.New("requestState was issued for another request (agent, tool, arguments, working directory or policy differ)")
	ErrStateReplayed = errors.New("requestState was already used (each answer counts once)")
	ErrTooMany       = errors.New("too many questions are awaiting an answer")
)

// state is the signed payload of a requestState.
type state struct {
	V    int    `json:"v"`
	N    string `json:"n"`           // nonce, accepted once
	Exp  int64  `json:"exp"`         // unix seconds
	Bind string `json:"b"`           // hex Binding
	Page string `json:"p,omitempty"` // url mode: the approval page's id
}

// IssueState returns a requestState for the request b (and, in url mode,
// its approval page), valid once until the question times out.
func (a *Approver) IssueState(b Binding, page string) (string, error) {
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	if len(a.nonces) >= maxOutstanding {
		return "", ErrTooMany
	}
	st := state{V: 1, N: randomID(), Exp: now.Add(a.opts.Timeout).Unix(), Bind: hex.EncodeToString(b[:]), Page: page}
	payload, err := json.Marshal(st)
	if err != nil {
		return "", err
	}
	a.nonces[st.N] = now.Add(a.opts.Timeout)
	p := base64.RawURLEncoding.EncodeToString(payload)
	return p + "." + base64.RawURLEncoding.EncodeToString(a.mac(p)), nil
}

func (a *Approver) mac(payload string) []byte {
	m := hmac.New(sha256.New, a.key[:])
	m.Write([]byte("mcp-process approval state v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

// CheckState verifies a requestState echoed for request b and uses its
// nonce up. It returns the approval page's id (url mode).
func (a *Approver) CheckState(s string, b Binding) (page string, _ error) {
	p, sig, ok := strings.Cut(s, ".")
	if !ok {
		return "", ErrStateForged
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac(p)) {
		return "", ErrStateForged
	}
	raw, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return "", ErrStateForged
	}
	var st state
	if err := json.Unmarshal(raw, &st); err != nil || st.V != 1 {
		return "", ErrStateForged
	}
	now := a.opts.Now()
	a.mu.Lock()
	_, fresh := a.nonces[st.N]
	delete(a.nonces, st.N) // single use, whatever follows
	a.mu.Unlock()
	switch {
	case now.Unix() >= st.Exp:
		return st.Page, ErrStateExpired
	case !hmac.Equal([]byte(st.Bind), []byte(hex.EncodeToString(b[:]))):
		return st.Page, ErrStateOther
	case !fresh:
		return st.Page, ErrStateReplayed
	}
	return st.Page, nil
}
