package approval

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func newApprover(t *testing.T, o Options) *Approver {
	t.Helper()
	a, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func question() *Question {
	return &Question{Action: ActionLaunch, Agent: "bot", Tool: "process_start", Executable: "/usr/bin/true",
		Args: []string{"-x"}, Cwd: "/work", Arguments: []byte(`{"executable":"true","args":["-x"]}`)}
}

func TestState(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	a := newApprover(t, Options{Timeout: time.Minute, PolicyVersion: "p1", Now: func() time.Time { return now }})
	q := question()
	b := a.Bind(q)
	s, err := a.IssueState(b, "")
	if err != nil {
		t.Fatal(err)
	}
	// The same request with its members in another order is the same binding.
	q2 := question()
	q2.Arguments = []byte(`{ "args":["-x"], "executable":"true"}`)
	if a.Bind(q2) != b {
		t.Error("binding depends on member order")
	}
	// Altered: a flipped payload byte, another signature, garbage.
	p, sig, _ := strings.Cut(s, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(p)
	raw[len(raw)-3] ^= 1
	for _, bad := range []string{base64.RawURLEncoding.EncodeToString(raw) + "." + sig, p + ".AAAA", "nonsense", ""} {
		if _, err := a.CheckState(bad, b); !errors.Is(err, ErrStateForged) {
			t.Errorf("altered state %q: %v, want ErrStateForged", bad, err)
		}
	}
	// Foreign: another server's key.
	other := newApprover(t, Options{Timeout: time.Minute, PolicyVersion: "p1", Now: func() time.Time { return now }})
	if _, err := other.CheckState(s, b); !errors.Is(err, ErrStateForged) {
		t.Errorf("foreign state: %v", err)
	}
	// Another request: other arguments, agent, policy.
	q3 := question()
	q3.Arguments = []byte(`{"executable":"true","args":["-y"]}`)
	s3, _ := a.IssueState(b, "")
	if _, err := a.CheckState(s3, a.Bind(q3)); !errors.Is(err, ErrStateOther) {
		t.Errorf("other arguments: %v", err)
	}
	// That nonce is used up even though it did not match.
	if _, err := a.CheckState(s3, b); !errors.Is(err, ErrStateReplayed) {
		t.Errorf("state after a mismatch: %v, want ErrStateReplayed", err)
	}
	a2 := newApprover(t, Options{Timeout: time.Minute, PolicyVersion: "p2"})
	if a2.Bind(q) == b {
		t.Error("binding ignores the policy version")
	}
	// Good once, then replayed.
	if _, err := a.CheckState(s, b); err != nil {
		t.Fatalf("valid state: %v", err)
	}
	if _, err := a.CheckState(s, b); !errors.Is(err, ErrStateReplayed) {
		t.Errorf("replayed state: %v", err)
	}
	// Expired.
	s4, _ := a.IssueState(b, "")
	now = now.Add(time.Minute)
	if _, err := a.CheckState(s4, b); !errors.Is(err, ErrStateExpired) {
		t.Errorf("expired state: %v", err)
	}
	if len(a.nonces) != 0 {
		t.Errorf("%d nonces left", len(a.nonces))
	}
}

func TestCounts(t *testing.T) {
	a := newApprover(t, Options{AutoApproveAfter: 2})
	for i := 1; i <= 2; i++ {
		if ok, n := a.AutoApproved("bot", "/bin/x"); ok || n != i-1 {
			t.Fatalf("before approval %d: %v %d", i, ok, n)
		}
		a.CountApproved("bot", "/bin/x")
	}
	if ok, _ := a.AutoApproved("bot", "/bin/x"); !ok {
		t.Error("not auto-approved after 2")
	}
	if ok, _ := a.AutoApproved("other", "/bin/x"); ok {
		t.Error("another agent auto-approved")
	}
	if ok, _ := a.AutoApproved("bot", "/bin/y"); ok {
		t.Error("another executable auto-approved")
	}
	if ok, _ := newApprover(t, Options{}).AutoApproved("bot", "/bin/x"); ok {
		t.Error("autoApproveAfterCount 0 approves")
	}
}

const token = "correct horse battery staple"

func pageServer(t *testing.T, timeout time.Duration) (*Approver, *httptest.Server) {
	t.Helper()
	sum := sha256.Sum256([]byte(token))
	a := newApprover(t, Options{Mode: ModeURL, Timeout: timeout, TokenSha256: hex.EncodeToString(sum[:])})
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(ts.Close)
	a.SetBaseURL(ts.URL)
	return a, ts
}

func post(t *testing.T, u, tok, decision string) (int, string) {
	t.Helper()
	resp, err := http.PostForm(u, url.Values{"token": {tok}, "decision": {decision}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestPage(t *testing.T) {
	a, _ := pageServer(t, time.Minute)
	q := question()
	q.Args = []string{"<script>alert(1)</script>"}
	p, err := a.OpenPage(*q)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "/usr/bin/true") || strings.Contains(string(body), "<script>") {
		t.Errorf("GET page: %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("headers %v", resp.Header)
	}
	if code, _ := post(t, p.URL, "wrong", "approve"); code != http.StatusForbidden {
		t.Errorf("wrong token: %d, want 403", code)
	}
	select {
	case <-p.done:
		t.Fatal("a wrong token decided")
	default:
	}
	if code, _ := post(t, p.URL, token, "approve"); code != 200 {
		t.Errorf("approve: %d", code)
	}
	if o := a.Wait(context.Background(), p); !o.Approved {
		t.Errorf("outcome %+v", o)
	}
	// The link is single-use.
	if code, _ := post(t, p.URL, token, "deny"); code != http.StatusGone {
		t.Errorf("reused link: %d, want 410", code)
	}
	if r, _ := http.Get(p.URL); r.StatusCode != http.StatusGone {
		t.Errorf("GET used link: %d", r.StatusCode)
	}

	// Deny; too many wrong tokens; cancelled; timed out.
	p2, _ := a.OpenPage(*q)
	post(t, p2.URL, token, "deny")
	if o := a.Wait(context.Background(), p2); o.Approved {
		t.Error("deny approved")
	}
	p3, _ := a.OpenPage(*q)
	for range maxWrongTokens {
		post(t, p3.URL, "guess", "approve")
	}
	if code, _ := post(t, p3.URL, token, "approve"); code != http.StatusGone {
		t.Errorf("after %d wrong tokens: %d, want 410", maxWrongTokens, code)
	}
	if o := a.Wait(context.Background(), p3); o.Approved || !strings.Contains(o.Reason, "wrong") {
		t.Errorf("after wrong tokens: %+v", o)
	}
	p4, _ := a.OpenPage(*q)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if o := a.Wait(ctx, p4); o.Approved || !strings.Contains(o.Reason, "cancelled") {
		t.Errorf("cancelled: %+v", o)
	}
	if code, _ := post(t, p4.URL, token, "approve"); code != http.StatusGone {
		t.Errorf("approve after cancel: %d", code)
	}
	b, _ := pageServer(t, 50*time.Millisecond)
	p5, _ := b.OpenPage(*q)
	if o := b.Wait(context.Background(), p5); o.Approved || !strings.Contains(o.Reason, "confirmationTimeoutSeconds") {
		t.Errorf("timed out: %+v", o)
	}
	if code, _ := post(t, p5.URL, token, "approve"); code != http.StatusGone {
		t.Errorf("approve after time-out: %d", code)
	}
	if _, err := newApprover(t, Options{Mode: ModeURL, TokenSha256: hex.EncodeToString(make([]byte, 32))}).OpenPage(*q); !errors.Is(err, ErrNoPages) {
		t.Errorf("no base URL: %v", err)
	}
}
