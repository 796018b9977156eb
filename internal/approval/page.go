package approval

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxWrongTokens wrong approver tokens on one page deny its request.
const maxWrongTokens = 5

// Outcome is a page's decision.
type Outcome struct {
	Approved bool
	Reason   string // how it was decided, for the audit record
}

// Page is one question's one-time approval page (url mode).
type Page struct {
	ID       string
	URL      string
	q        Question
	deadline time.Time

	once    sync.Once
	done    chan struct{}
	outcome Outcome
	wrong   int // wrong tokens so far (Approver.mu)
}

// decide records the first decision; later ones are ignored.
func (p *Page) decide(o Outcome) {
	p.once.Do(func() {
		p.outcome = o
		close(p.done)
	})
}

// ErrNoPages: url mode without a listener for the pages.
var ErrNoPages = errors.New("no listener serves the approval pages")

// SetBaseURL sets where the approval pages are served
// ("http://127.0.0.1:PORT"); the handler is mounted at /approval/.
func (a *Approver) SetBaseURL(u string) {
	a.mu.Lock()
	a.base = strings.TrimSuffix(u, "/")
	a.mu.Unlock()
}

// OpenPage makes q's one-time approval page, open until the question
// times out.
func (a *Approver) OpenPage(q Question) (*Page, error) {
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(now)
	if a.base == "" {
		return nil, ErrNoPages
	}
	if len(a.pages) >= maxOutstanding {
		return nil, ErrTooMany
	}
	p := &Page{ID: randomID(), q: q, deadline: now.Add(a.opts.Timeout), done: make(chan struct{})}
	p.URL = a.base + "/approval/" + p.ID
	a.pages[p.ID] = p
	return p, nil
}

// LookupPage returns the page id, open or decided but not yet closed (a
// multi-round-trip retry), or nil.
func (a *Approver) LookupPage(id string) *Page {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(a.opts.Now())
	return a.pages[id]
}

// ClosePage ends p: undecided, it is denied with reason; the link stops
// working.
func (a *Approver) ClosePage(p *Page, reason string) {
	p.decide(Outcome{Reason: reason})
	a.mu.Lock()
	delete(a.pages, p.ID)
	a.mu.Unlock()
}

// Wait returns p's decision, or a denial when ctx ends or the question
// times out first.
func (a *Approver) Wait(ctx context.Context, p *Page) Outcome {
	t := time.NewTimer(time.Until(p.deadline))
	defer t.Stop()
	select {
	case <-p.done:
		a.ClosePage(p, "")
	case <-ctx.Done():
		a.ClosePage(p, "the tool call was cancelled while the approval page was open")
	case <-t.C:
		a.ClosePage(p, "no decision on the approval page within confirmationTimeoutSeconds")
	}
	return p.outcome
}

// Handler serves the approval pages at /approval/{id}: GET shows the
// question, POST (fields token and decision) decides it.
func (a *Approver) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /approval/{id}", a.show)
	mux.HandleFunc("POST /approval/{id}", a.answer)
	return http.NewCrossOriginProtection().Handler(mux)
}

func (a *Approver) open(id string) *Page {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.sweep(a.opts.Now())
	p := a.pages[id]
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
		return p
	}
}

func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
}

func gone(w http.ResponseWriter) {
	pageHeaders(w)
	w.WriteHeader(http.StatusGone)
	_ = pageTmpl.Execute(w, pageData{Note: "This approval link was used or has expired."})
}

func (a *Approver) show(w http.ResponseWriter, r *http.Request) {
	p := a.open(r.PathValue("id"))
	if p == nil {
		gone(w)
		return
	}
	pageHeaders(w)
	_ = pageTmpl.Execute(w, pageData{Q: &p.q, Message: p.q.Message(), Form: true})
}

func (a *Approver) answer(w http.ResponseWriter, r *http.Request) {
	p := a.open(r.PathValue("id"))
	if p == nil {
		gone(w)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	decision := r.PostForm.Get("decision")
	if decision != "approve" && decision != "deny" {
		http.Error(w, `decision must be "approve" or "deny"`, http.StatusBadRequest)
		return
	}
	sum := sha256.Sum256([]byte(r.PostForm.Get("token")))
	if subtle.ConstantTimeCompare(sum[:], a.token) != 1 {
		a.mu.Lock()
		p.wrong++
		n := p.wrong
		a.mu.Unlock()
		if n >= maxWrongTokens {
			a.ClosePage(p, "denied: too many wrong approver tokens on the approval page")
			gone(w)
			return
		}
		pageHeaders(w)
		w.WriteHeader(http.StatusForbidden)
		_ = pageTmpl.Execute(w, pageData{Q: &p.q, Message: p.q.Message(), Form: true, Note: "Wrong approver token: nothing was decided."})
		return
	}
	o := Outcome{Approved: decision == "approve", Reason: "approved on the approval page with the approver token"}
	if !o.Approved {
		o.Reason = "denied on the approval page"
	}
	p.decide(o) // kept until its waiter reads it (ClosePage) or it expires; the link no longer opens
	note := "Denied: it will not run."
	if p.outcome.Approved {
		note = "Approved."
	}
	pageHeaders(w)
	_ = pageTmpl.Execute(w, pageData{Q: &p.q, Message: p.q.Message(), Note: note})
}

type pageData struct {
	Q       *Question
	Message string
	Form    bool
	Note    string
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>mcp-process approval</title>
<style>body{font-family:sans-serif;max-width:50em;margin:2em auto;padding:0 1em}pre{white-space:pre-wrap;background:#f4f4f4;padding:1em}</style>
</head><body>
<h1>mcp-process: approval</h1>
{{if .Note}}<p><strong>{{.Note}}</strong></p>{{end}}
{{if .Q}}<pre>{{.Message}}</pre>{{end}}
{{if .Form}}<form method="post">
<p><label>Approver token <input type="password" name="token" autocomplete="off" required></label></p>
<p><button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="approve">Approve</button></p>
</form>{{end}}
</body></html>
`))
