package supervisor

import (
	"bytes"
	"time"
	"unicode/utf8"
)

// Progress of a process_run (SPEC 7.4): whole lines, coalesced, at most one
// update per ProgressInterval, and a heartbeat after HeartbeatInterval
// without one.
const (
	// ProgressInterval is the least time between two progress updates of
	// one run (at most ~10 per second).
	ProgressInterval = 100 * time.Millisecond
	// HeartbeatInterval is the longest a run goes without an update, output
	// or not, so clients that reset their request time-out on progress
	// keep waiting (SPEC 7.4: at least every 5 s).
	HeartbeatInterval = 2 * time.Second
	// progressPartialAfter is how long an unterminated line (a prompt, a
	// progress bar) is held back waiting for its newline before it is sent
	// as it is.
	progressPartialAfter = time.Second
	// progressMaxBytes caps one update's text per stream: a burst larger
	// than this sends its last whole lines and counts the rest as skipped
	// (it stays readable with process_get_output).
	progressMaxBytes = 16 << 10
)

// Progress is one progress update of a run.
type Progress struct {
	// Stdout and Stderr are the whole lines written since the previous
	// update (an unterminated line only once it waited
	// progressPartialAfter, or is longer than progressMaxBytes); both are
	// empty in a heartbeat. A UTF-8 sequence is never split between two
	// updates; the bytes are otherwise as the process wrote them.
	Stdout, Stderr []byte
	// Skipped counts, per stream, the bytes of this update's span not
	// included (the span exceeded progressMaxBytes, or the ring dropped them).
	Skipped StreamCounts
	// Total is the bytes each stream has written so far.
	Total StreamCounts
	// Elapsed is the time since the launch.
	Elapsed time.Duration
	// Pid is the process's pid (the first update comes at once, so the
	// client learns it while the run goes on).
	Pid int
}

// Heartbeat reports whether the update carries no output.
func (p Progress) Heartbeat() bool { return len(p.Stdout) == 0 && len(p.Stderr) == 0 }

// lineFeed follows one ring for progress: it hands out whole lines once.
type lineFeed struct {
	r            *ring
	sent         int64     // next offset to hand out
	partialSince time.Time // when unsent bytes without a newline were first seen
}

// next returns the text to send from the ring at now, and the bytes
// skipped since the previous call.
func (f *lineFeed) next(now time.Time) (text []byte, skipped int64) {
	if f == nil || f.r == nil {
		return nil, 0
	}
	total, oldest := f.r.position()
	if f.sent < oldest { // the ring dropped bytes we never sent
		skipped += oldest - f.sent
		f.sent = oldest
	}
	if total == f.sent {
		f.partialSince = time.Time{}
		return nil, skipped
	}
	from := f.sent
	if total-from > progressMaxBytes {
		// Too much for one update: its last whole lines within
		// progressMaxBytes (one byte more is read to see whether the cut
		// falls on a line start).
		from = total - progressMaxBytes - 1
	}
	rd := f.r.read(from, 0, 0)
	data := rd.data
	if rd.start > f.sent {
		skipped += rd.start - f.sent
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i+1 < len(data) {
			skipped += int64(i + 1)
			data = data[i+1:]
		}
	}
	end := bytes.LastIndexByte(data, '\n') + 1
	if end == 0 {
		// Only an unterminated line: hold it back a while for its
		// newline, unless it is long already.
		if f.partialSince.IsZero() {
			f.partialSince = now
		}
		if len(data) < progressMaxBytes && now.Sub(f.partialSince) < progressPartialAfter {
			return nil, skipped
		}
		end = len(data)
	}
	if end < len(data) {
		f.partialSince = now
	} else {
		f.partialSince = time.Time{}
	}
	// Never split a UTF-8 sequence at the cut: the rest goes with the next update.
	end -= incompleteRuneTail(data[:end])
	f.sent = rd.start + int64(len(rd.data)-len(data)) + int64(end)
	return data[:end], skipped
}

// progressor produces a run's progress updates.
type progressor struct {
	start    time.Time
	out, err lineFeed
	pid      int
	last     time.Time // last update sent (zero: none yet, the first poll sends one)
}

func newProgressor(pid int, out, errb *ring, start time.Time) *progressor {
	return &progressor{start: start, pid: pid, out: lineFeed{r: out}, err: lineFeed{r: errb}}
}

// poll returns the update due at now, if any: the first poll's, new whole
// lines, or a heartbeat when HeartbeatInterval passed without an update. The caller
// calls it at most once per ProgressInterval.
func (p *progressor) poll(now time.Time) (Progress, bool) {
	so, ko := p.out.next(now)
	se, ke := p.err.next(now)
	u := Progress{Stdout: so, Stderr: se, Skipped: StreamCounts{Stdout: ko, Stderr: ke}, Elapsed: now.Sub(p.start), Pid: p.pid}
	if p.out.r != nil {
		u.Total.Stdout, _ = p.out.r.position()
	}
	if p.err.r != nil {
		u.Total.Stderr, _ = p.err.r.position()
	}
	if u.Heartbeat() && !p.last.IsZero() && now.Sub(p.last) < HeartbeatInterval {
		return Progress{}, false
	}
	p.last = now
	return u, true
}

// incompleteRuneTail is the length of an incomplete UTF-8 sequence at the
// end of b (0 if b ends on a rune boundary or with invalid bytes that no
// continuation could complete).
func incompleteRuneTail(b []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		c := b[len(b)-k]
		if utf8.RuneStart(c) {
			if c < utf8.RuneSelf || utf8.FullRune(b[len(b)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// continuationHead is the number of UTF-8 continuation bytes (at most 3)
// that b starts with: a read that starts inside a rune skips them.
func continuationHead(b []byte) int {
	n := 0
	for n < len(b) && n < utf8.UTFMax-1 && !utf8.RuneStart(b[n]) {
		n++
	}
	if n == len(b) || n == utf8.UTFMax-1 && !utf8.RuneStart(b[n]) {
		return 0 // not text: leave it as it is
	}
	return n
}
