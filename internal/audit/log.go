package audit

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultMaxBytes = 64 << 20
	DefaultKeep     = 10
)

// DefaultViolationFile is the name of the security violation log placed
// beside the audit log when no securityViolationLogPath is configured.
const DefaultViolationFile = "security-violations.log"

// DefaultViolationPath returns the violation log path beside auditPath.
func DefaultViolationPath(auditPath string) string {
	return filepath.Join(filepath.Dir(auditPath), DefaultViolationFile)
}

// Options configures a Log.
type Options struct {
	// Path is the audit log (enableAuditLog/auditLogPath). Parent
	// directories are created 0700, the file 0600, opened O_APPEND.
	Path string
	// ViolationPath is the separate security violation log (same format,
	// its own chain). Empty: no violation log.
	ViolationPath string
	// Level is the lowest level written to the audit log (auditLogLevel):
	// debug, info (default), warn or error.
	Level string
	// MaxBytes is the size at which a log file is rotated (0: 64 MiB).
	MaxBytes int64
	// Keep is how many rotated files are kept (0: 10).
	Keep int
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Alerts enables security alerts (enableSecurityAlerts). With an empty
	// URL, alerts are recorded in the violation log only. Nil: no alerts.
	Alerts *AlertOptions
	// DenialsPerWindow is how many denials (decision "deny") per agent per
	// DenialWindow are recorded one each (maxLaunchesPerMinute); further
	// ones are summarised (see denialLimiter). 0: every denial is recorded.
	DenialsPerWindow int
	// DenialWindow is the summarising window (0: one minute).
	DenialWindow time.Duration
	// SigningKey (auditSigningKeyFile) signs a checkpoint record every
	// CheckpointEvery records (0: DefaultCheckpointEvery), after the first
	// record of each run and at close, and the head files (head.go). Nil:
	// no checkpoints.
	SigningKey      *Key
	CheckpointEvery int
	// Disabled turns the audit log off (enableAuditLog false): Path is not
	// opened and records go nowhere. The violation log and alerts are
	// governed by ViolationPath and Alerts alone.
	Disabled bool
}

// Log is the audit log: a hash-chained JSONL file, an optional violation
// log with its own chain, and an optional webhook alert queue. It is safe
// for concurrent use.
type Log struct {
	level      int
	now        func() time.Time
	main       *chainFile     // nil when disabled
	violations *chainFile     // nil without a violation log
	alerts     *alerter       // nil without a webhook
	denials    *denialLimiter // nil: every denial recorded

	closeOnce sync.Once
	closeErr  error
}

var _ Recorder = (*Log)(nil)

var levelRank = map[string]int{LevelDebug: 0, LevelInfo: 1, LevelWarn: 2, LevelError: 3}

// Open opens (creating) the logs and, for an existing log, continues its
// chain from its last record. A log that cannot be created or whose last
// record does not parse is an error: the server must refuse to start.
func Open(opts Options) (*Log, error) {
	l := &Log{now: opts.Now}
	if l.now == nil {
		l.now = time.Now
	}
	lv := opts.Level
	if lv == "" {
		lv = LevelInfo
	}
	rank, ok := levelRank[lv]
	if !ok {
		return nil, fmt.Errorf("audit log level %q: want debug, info, warn or error", opts.Level)
	}
	l.level = rank
	maxBytes, keep := opts.MaxBytes, opts.Keep
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if keep <= 0 {
		keep = DefaultKeep
	}
	if opts.SigningKey != nil && !opts.SigningKey.CanSign() {
		return nil, errors.New("audit signing key: a public key cannot sign")
	}
	copts := chainOptions{maxBytes: maxBytes, keep: keep, key: opts.SigningKey, every: opts.CheckpointEvery, now: l.now}
	if !opts.Disabled {
		if opts.Path == "" {
			return nil, errors.New("audit log: no path")
		}
		c, notes, err := openChain(opts.Path, copts)
		if err != nil {
			return nil, err
		}
		l.main = c
		if err := l.recordNotes(c, notes); err != nil {
			c.close()
			return nil, err
		}
	}
	if opts.ViolationPath != "" {
		if l.main != nil && filepath.Clean(opts.ViolationPath) == filepath.Clean(opts.Path) {
			l.main.close()
			return nil, fmt.Errorf("security violation log %s: must differ from the audit log", opts.ViolationPath)
		}
		c, notes, err := openChain(opts.ViolationPath, copts)
		if err == nil {
			if err = l.recordNotes(c, notes); err != nil {
				c.close()
			}
		}
		if err != nil {
			if l.main != nil {
				l.main.close()
			}
			return nil, err
		}
		l.violations = c
	}
	if opts.Alerts != nil && opts.Alerts.URL != "" {
		l.alerts = newAlerter(*opts.Alerts)
	}
	if opts.DenialsPerWindow > 0 {
		window := opts.DenialWindow
		if window <= 0 {
			window = time.Minute
		}
		l.denials = newDenialLimiter(opts.DenialsPerWindow, window, l.now, l.write)
	}
	return l, nil
}

// recordNotes records what opening c found (a partial line removed, a
// missing head) as error records of c's own chain.
func (l *Log) recordNotes(c *chainFile, notes []string) error {
	for _, n := range notes {
		if err := c.append(&Record{Time: l.now().UTC().Format(time.RFC3339Nano), Level: LevelError,
			Event: EventInternalError, Reason: n}); err != nil {
			return err
		}
	}
	return nil
}

// Enabled reports whether a record of this level would reach the audit
// log, so callers can skip building debug records.
func (l *Log) Enabled(level string) bool {
	return l.main != nil && rankOf(level) >= l.level
}

func rankOf(level string) int {
	if r, ok := levelRank[level]; ok {
		return r
	}
	if level == "" {
		return levelRank[LevelInfo]
	}
	return levelRank[LevelError] // unknown levels are never filtered out
}

// IsViolation reports whether r is a security violation: event
// security_violation, or a warn-level denial.
func IsViolation(r Record) bool {
	return r.Event == EventSecurityViolation || (r.Level == LevelWarn && r.Decision == "deny")
}

// alwaysRecorded are the events written whatever auditLogLevel says: the
// start (which also proves at start that the log is writable) and the stop
// of the server, so that every log has a chain to verify.
func alwaysRecorded(event string) bool {
	return event == EventConfigLoaded || event == EventServerStop
}

// Record writes r to the audit log (unless its level is below the
// configured one, except the always-recorded events) and, for a security violation, to the violation log and
// the alert queue. Time, Seq, PrevHash and Hash are filled in (an empty
// Level becomes info). It returns once the record is on disk; an error
// means it is not, and the caller must fail the tool call (INTERNAL).
// Alerts never block or fail Record. Its fields are bounded first
// (boundRecord); a denial past its window's allowance is summarised
// instead of written (denialLimiter), and pending summaries are written
// before any record that is.
func (l *Log) Record(r Record) error {
	boundRecord(&r)
	var due []Record
	if l.denials != nil {
		if r.Decision == "deny" {
			own, d := l.denials.admit(&r)
			due = d
			if !own {
				return l.writeAll(due)
			}
		}
		due = append(due, l.denials.pending()...)
	}
	if err := l.writeAll(due); err != nil {
		return err
	}
	return l.write(r)
}

func (l *Log) writeAll(rs []Record) error {
	for _, r := range rs {
		if err := l.write(r); err != nil {
			return err
		}
	}
	return nil
}

// write writes one bounded record to the logs and the alert queue.
func (l *Log) write(r Record) error {
	if r.Level == "" {
		r.Level = LevelInfo
	}
	r.Time = l.now().UTC().Format(time.RFC3339Nano)
	var seq uint64
	if l.main != nil && (rankOf(r.Level) >= l.level || alwaysRecorded(r.Event)) {
		rec := r
		if err := l.main.append(&rec); err != nil {
			return err
		}
		seq = rec.Seq
	}
	if !IsViolation(r) {
		return nil
	}
	if l.violations != nil {
		rec := r
		if err := l.violations.append(&rec); err != nil {
			return err
		}
		if seq == 0 {
			seq = rec.Seq
		}
	}
	if l.alerts != nil {
		l.alerts.enqueue(newAlert(r, seq))
	}
	return nil
}

// DroppedAlerts is the number of alerts never delivered: queue full,
// retries exhausted, or still queued when Close's drain deadline passed.
func (l *Log) DroppedAlerts() uint64 {
	if l.alerts == nil {
		return 0
	}
	return l.alerts.dropped.Load()
}

// Close stops the alert worker (delivering what is queued within a bounded
// deadline), records how many alerts were dropped, if any, and closes the
// files. Record after Close returns an error.
func (l *Log) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.denials != nil {
			errs = append(errs, l.writeAll(l.denials.close()))
		}
		if l.alerts != nil {
			l.alerts.stop()
			if n := l.alerts.dropped.Load(); n > 0 && l.main != nil {
				errs = append(errs, l.main.append(&Record{
					Time:  l.now().UTC().Format(time.RFC3339Nano),
					Level: LevelError, Event: EventInternalError,
					Reason: fmt.Sprintf("%d security alert(s) could not be delivered to the webhook", n),
				}))
			}
		}
		for _, c := range []*chainFile{l.main, l.violations} {
			if c != nil {
				errs = append(errs, c.close())
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}
