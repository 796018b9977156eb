package supervisor

import (
	"context"
	"time"

	"github.com/mcp-process/mcp-process/internal/policy"
)

// Run starts spec and waits for it up to o.WaitTimeout (<= 0: 30 s; never
// longer than the process's lifetime); on expiry it terminates the tree
// (reason "timeout"). A cancelled ctx terminates the process too. With
// o.Progress set it reports progress (see Progress) from this goroutine.
// The result carries at most o.MaxResultBytes of each stream: its tail,
// with the offsets to read the rest (SPEC 7.4).
func (s *Supervisor) Run(ctx context.Context, agent string, spec *policy.Spec, so StartOptions, o RunOptions) (*RunResult, error) {
	p, err := s.launch(agent, spec, so, launchKind{kind: KindProcess, run: true})
	if err != nil {
		return nil, err
	}
	defer p.reading.Add(-1) // its result read: the janitor may forget it
	waitTimeout := o.WaitTimeout
	if waitTimeout <= 0 {
		waitTimeout = DefaultRunWait
	}
	if spec.Lifetime > 0 && waitTimeout > spec.Lifetime {
		waitTimeout = spec.Lifetime
	}
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	var tick <-chan time.Time
	var prog *progressor
	if o.Progress != nil {
		p.mu.Lock()
		begin := p.start
		p.mu.Unlock()
		prog = newProgressor(p.pid, p.out, p.errb, begin)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		tick = t.C
	}
	ctxDone := ctx.Done()
	for running := true; running; {
		select {
		case <-p.done:
			running = false
		case now := <-tick:
			if u, ok := prog.poll(now); ok {
				o.Progress(u)
			}
		case <-timer.C:
			p.requestStop(ReasonTimeout, s.limitGrace())
		case <-ctxDone:
			ctxDone = nil
			p.requestStop(ReasonTerminated, defaultTermTimeout)
		}
	}
	res := &RunResult{Status: p.status(s.now())}
	p.mu.Lock()
	res.DurationMs = p.end.Sub(p.start).Milliseconds()
	p.mu.Unlock()
	max := o.MaxResultBytes
	if max <= 0 {
		max = DefaultMaxResultBytes
	}
	if p.out != nil {
		var ro, re ringRead
		res.Stdout, ro = tailOf(p.out, max)
		res.Stderr, re = tailOf(p.errb, max)
		res.StdoutBytes, res.StderrBytes = ro.total, re.total
		res.Offset = StreamCounts{Stdout: ro.start, Stderr: re.start}
		res.NextOffset = StreamCounts{Stdout: ro.next, Stderr: re.next}
		res.DroppedBytes = StreamCounts{Stdout: ro.dropped, Stderr: re.dropped}
		res.Truncated = ro.start > 0 || re.start > 0
	}
	return res, nil
}

// tailOf reads the last max bytes of r: a cut inside a UTF-8 sequence
// moves the start past the sequence's remaining bytes, so that text read
// as text does not start with a broken character.
func tailOf(r *ring, max int) ([]byte, ringRead) {
	rd := r.read(0, 0, max)
	if rd.start > 0 {
		k := continuationHead(rd.data)
		rd.data, rd.start = rd.data[k:], rd.start+int64(k)
	}
	return rd.data, rd
}
