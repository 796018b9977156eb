package audit

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

type webhookCall struct {
	body   []byte
	header http.Header
}

// webhook is a loopback test server; status decides each answer.
type webhook struct {
	*httptest.Server
	mu    sync.Mutex
	calls []webhookCall
	got   chan struct{}
}

func newWebhook(t *testing.T, status func(n int) int) *webhook {
	w := &webhook{got: make(chan struct{}, 100)}
	w.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.mu.Lock()
		w.calls = append(w.calls, webhookCall{body, r.Header.Clone()})
		n := len(w.calls)
		w.mu.Unlock()
		rw.WriteHeader(status(n))
		w.got <- struct{}{}
	}))
	t.Cleanup(w.Close)
	return w
}

func (w *webhook) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.calls)
}

func (w *webhook) waitCalls(t *testing.T, n int) []webhookCall {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		w.mu.Lock()
		if len(w.calls) >= n {
			calls := append([]webhookCall(nil), w.calls...)
			w.mu.Unlock()
			return calls
		}
		w.mu.Unlock()
		select {
		case <-w.got:
		case <-deadline:
			t.Fatalf("webhook got fewer than %d calls", n)
		}
	}
}

func violation(agent string) Record {
	return Record{
		Level: LevelWarn, Event: EventSecurityViolation, Agent: agent, Tool: "process_start",
		Executable: "/bin/sh", Args: []string{"-c", "id"}, Decision: "deny", Layer: "executable",
		Code: "SHELL_BLOCKED", Reason: "shell interpreters are blocked",
	}
}

func alertWorkerRunning() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	return bytes.Contains(buf[:n], []byte("(*alerter).run"))
}

// waitWorkerGone polls: a worker that has closed its done channel may
// still be on its way out.
func waitWorkerGone(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for alertWorkerRunning() {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("alert worker still running after Close:\n%s", buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAlertBodyAndSignature(t *testing.T) {
	wh := newWebhook(t, func(int) int { return http.StatusOK })
	dir := t.TempDir()
	const secret = "s3cret"
	l := openLog(t, Options{
		Path: filepath.Join(dir, "audit.log"), ViolationPath: filepath.Join(dir, "violations.log"),
		Alerts: &AlertOptions{URL: wh.URL, Secret: secret},
	})
	writeN(t, l, 2) // seq 1, 2: not violations, no alerts
	if err := l.Record(violation("ci-bot")); err != nil {
		t.Fatal(err)
	}
	call := wh.waitCalls(t, 1)[0]
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	if ct := call.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(call.body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if got := call.header.Get("X-MCP-Process-Signature"); got != want {
		t.Errorf("signature %q, want %q", got, want)
	}

	// Exactly these members, in this order.
	dec := json.NewDecoder(bytes.NewReader(call.body))
	dec.Token()
	var keys []string
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		var skip json.RawMessage
		dec.Decode(&skip)
	}
	if strings.Join(keys, ",") != "event,time,agent,layer,code,reason,executable,args,seq" {
		t.Errorf("body members %v", keys)
	}
	var a Alert
	if err := json.Unmarshal(call.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Event != "security_violation" || a.Agent != "ci-bot" || a.Layer != "executable" ||
		a.Code != "SHELL_BLOCKED" || a.Executable != "/bin/sh" || strings.Join(a.Args, " ") != "-c id" ||
		a.Seq != 3 || !strings.HasSuffix(a.Time, "Z") {
		t.Errorf("alert %+v", a)
	}
	if l.DroppedAlerts() != 0 {
		t.Errorf("DroppedAlerts = %d", l.DroppedAlerts())
	}
}

func TestAlertRetriedAfterServerError(t *testing.T) {
	wh := newWebhook(t, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusNoContent
	})
	l := openLog(t, Options{
		Path:   filepath.Join(t.TempDir(), "audit.log"),
		Alerts: &AlertOptions{URL: wh.URL, Secret: "k", Backoff: 10 * time.Millisecond},
	})
	if err := l.Record(violation("a")); err != nil {
		t.Fatal(err)
	}
	calls := wh.waitCalls(t, 2)
	if !bytes.Equal(calls[0].body, calls[1].body) {
		t.Errorf("retry body differs:\n%s\n%s", calls[0].body, calls[1].body)
	}
	l.Close()
	if n := wh.count(); n != 2 {
		t.Errorf("%d calls, want 2 (one failure, one success)", n)
	}
	if l.DroppedAlerts() != 0 {
		t.Errorf("DroppedAlerts = %d after a successful retry", l.DroppedAlerts())
	}
}

func TestAlertGivesUpAfterMaxRetries(t *testing.T) {
	wh := newWebhook(t, func(int) int { return http.StatusBadGateway })
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{
		Path:   path,
		Alerts: &AlertOptions{URL: wh.URL, MaxRetries: 2, Backoff: time.Millisecond},
	})
	if err := l.Record(violation("a")); err != nil {
		t.Fatal(err)
	}
	wh.waitCalls(t, 3)
	l.Close()
	if wh.count() != 3 || l.DroppedAlerts() != 1 {
		t.Fatalf("%d calls, %d dropped; want 3 calls (1 + 2 retries), 1 dropped", wh.count(), l.DroppedAlerts())
	}
	// Close noted the undelivered alert in the audit log, chained.
	lines := readLines(t, path)
	if !bytes.Contains(lines[len(lines)-1], []byte("1 security alert(s) could not be delivered")) {
		t.Fatalf("last record %s", lines[len(lines)-1])
	}
	if _, err := VerifyFile(path); err != nil {
		t.Fatal(err)
	}
}

func TestBlockedWebhookDoesNotBlockRecord(t *testing.T) {
	entered := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	l, err := Open(Options{
		Path: filepath.Join(t.TempDir(), "audit.log"), Now: fixedClock(),
		Alerts: &AlertOptions{URL: srv.URL, QueueSize: 1, DrainTimeout: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	if err := l.Record(violation("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("webhook never called")
	}
	// The handler is now blocked. Further violations must still be recorded
	// promptly: one fills the queue, the rest are dropped and counted.
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 4; i++ {
			if err := l.Record(violation("a")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Record blocked behind a blocked webhook")
	}
	if got := l.DroppedAlerts(); got != 3 {
		t.Errorf("DroppedAlerts = %d, want 3 (queue of 1 full)", got)
	}
	// Close gives up on the blocked webhook after the drain deadline and
	// stops the worker.
	closed := make(chan error, 1)
	go func() { closed <- l.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Close blocked behind a blocked webhook")
	}
	if got := l.DroppedAlerts(); got != 5 {
		t.Errorf("DroppedAlerts after Close = %d, want 5", got)
	}
	waitWorkerGone(t)
}

func TestCloseStopsWorker(t *testing.T) {
	wh := newWebhook(t, func(int) int { return http.StatusOK })
	l, err := Open(Options{Path: filepath.Join(t.TempDir(), "audit.log"), Alerts: &AlertOptions{URL: wh.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for deadline := time.Now().Add(10 * time.Second); !alertWorkerRunning(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no alert worker")
		}
	}
	for i := 0; i < 5; i++ {
		if err := l.Record(violation("a")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	waitWorkerGone(t)
	// Queued alerts were delivered before Close returned.
	if wh.count() != 5 || l.DroppedAlerts() != 0 {
		t.Fatalf("%d delivered, %d dropped; want 5, 0", wh.count(), l.DroppedAlerts())
	}
}

func TestSign(t *testing.T) {
	// HMAC-SHA256 test vector (RFC 4231 test case 2).
	got := Sign("Jefe", []byte("what do ya want for nothing?"))
	if got != "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("Sign = %s", got)
	}
}
