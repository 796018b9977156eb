package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// SignatureHeader carries "sha256=" + hex HMAC-SHA256(secret, raw body).
const SignatureHeader = "X-MCP-Process-Signature"

// AlertOptions configures webhook alerts (SPEC 3.12).
type AlertOptions struct {
	// URL is securityAlertWebhook. Empty: alerts go to the violation log
	// only.
	URL string
	// Secret is securityAlertWebhookSecret, the HMAC-SHA256 key.
	Secret string
	// QueueSize bounds the queue (0: 1000); a full queue drops the alert.
	QueueSize int
	// Client sends the alerts (nil: an http.Client with a 10 s timeout).
	Client *http.Client
	// MaxRetries is how many times a failed POST is retried (0: 5).
	MaxRetries int
	// Backoff is the first retry delay, doubled each retry (0: 500 ms),
	// capped at MaxBackoff (0: 30 s).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// DrainTimeout bounds how long Close keeps delivering queued alerts
	// (0: 2 s).
	DrainTimeout time.Duration
}

// Alert is the webhook body. Every member is always present.
type Alert struct {
	Event      string   `json:"event"`
	Time       string   `json:"time"`
	Agent      string   `json:"agent"`
	Layer      string   `json:"layer"`
	Code       string   `json:"code"`
	Reason     string   `json:"reason"`
	Executable string   `json:"executable"`
	Args       []string `json:"args"`
	Seq        uint64   `json:"seq"`
}

// newAlert builds the alert for violation r; seq is the record's seq in the
// audit log (or in the violation log when the audit log did not take it).
func newAlert(r Record, seq uint64) Alert {
	args := r.Args
	if args == nil {
		args = []string{}
	}
	return Alert{
		Event: EventSecurityViolation, Time: r.Time, Agent: r.Agent, Layer: r.Layer,
		Code: r.Code, Reason: r.Reason, Executable: r.Executable, Args: append([]string(nil), args...), Seq: seq,
	}
}

// Sign returns the X-MCP-Process-Signature value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// alerter owns the bounded queue and the one worker goroutine that POSTs.
type alerter struct {
	opts    AlertOptions
	dropped atomic.Uint64

	mu     sync.Mutex // guards closed and sends on queue
	closed bool
	queue  chan Alert

	ctx    context.Context // canceled when the drain deadline passes
	cancel context.CancelFunc
	done   chan struct{}
}

func newAlerter(o AlertOptions) *alerter {
	if o.QueueSize <= 0 {
		o.QueueSize = 1000
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 5
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2 * time.Second
	}
	a := &alerter{opts: o, queue: make(chan Alert, o.QueueSize), done: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a
}

// enqueue never blocks: a full (or closed) queue drops the alert.
func (a *alerter) enqueue(al Alert) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		a.dropped.Add(1)
		return
	}
	select {
	case a.queue <- al:
	default:
		a.dropped.Add(1)
	}
}

// stop closes the queue, lets the worker deliver what is queued until the
// drain deadline, then cancels it and waits for it to exit.
func (a *alerter) stop() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	t := time.NewTimer(a.opts.DrainTimeout)
	defer t.Stop()
	select {
	case <-a.done:
	case <-t.C:
		a.cancel()
		<-a.done
	}
	a.cancel()
}

func (a *alerter) run() {
	defer close(a.done)
	for al := range a.queue {
		if a.ctx.Err() != nil || !a.deliver(al) {
			a.dropped.Add(1)
		}
	}
}

// deliver POSTs al, retrying with exponential backoff on a network error
// or a non-2xx answer. It reports whether the webhook accepted it.
func (a *alerter) deliver(al Alert) bool {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(al); err != nil {
		return false
	}
	body := bytes.TrimSuffix(b.Bytes(), []byte("\n"))
	var sig string // unsigned without a secret (see config: securityAlertWebhookSecret)
	if a.opts.Secret != "" {
		sig = Sign(a.opts.Secret, body)
	}
	delay := a.opts.Backoff
	for attempt := 0; ; attempt++ {
		if a.post(body, sig) == nil {
			return true
		}
		if attempt >= a.opts.MaxRetries {
			return false
		}
		t := time.NewTimer(delay)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
		delay = min(delay*2, a.opts.MaxBackoff)
	}
}

func (a *alerter) post(body []byte, sig string) error {
	req, err := http.NewRequestWithContext(a.ctx, http.MethodPost, a.opts.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(SignatureHeader, sig)
	}
	req.Header.Set("User-Agent", "mcp-process-audit")
	resp, err := a.opts.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
