package supervisor

import (
	"errors"
	"os"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
)

// Output reads agent's process output: the bytes of each stream asked for,
// from an offset or the tail (SPEC 2 process_get_output, 6 Output offsets).
func (s *Supervisor) Output(agent string, pid int, q OutputQuery) (*OutputResult, error) {
	var wantOut, wantErr bool
	switch q.Stream {
	case "":
		wantOut, wantErr = true, true
	case StreamStdout:
		wantOut = true
	case StreamStderr:
		wantErr = true
	default:
		return nil, errcode.Fail(errcode.InvalidInput, layer.IO, `use "stdout", "stderr" or both`, "unknown stream %q", q.Stream)
	}
	if q.MaxBytes < 0 || q.Tail < 0 {
		return nil, errcode.Fail(errcode.InvalidInput, layer.IO, "use a positive number", "maxBytes and tail cannot be negative")
	}
	p, err := s.lookup(agent, pid)
	if err != nil {
		return nil, err
	}
	if p.out == nil {
		if !s.cfg.AllowOutputCapture {
			return nil, errcode.Deny(errcode.OutputCaptureDisabled, layer.IO, "output capture is off in the policy (allowOutputCapture)",
				"process %d's output was not captured", pid)
		}
		return nil, errcode.Fail(errcode.OutputCaptureDisabled, layer.IO, "start the process with captureOutput true",
			"process %d was started with captureOutput false", pid)
	}
	res := &OutputResult{Pty: p.tty != nil}
	readOne := func(r *ring, off *int64, want bool) ([]byte, ringRead) {
		var o int64
		if off != nil {
			o = *off
		}
		if !want {
			rd := r.read(0, 0, 0)
			// Not asked for: report the position, return nothing.
			return nil, ringRead{start: rd.total, next: rd.total, total: rd.total, dropped: rd.dropped}
		}
		rd := r.read(o, q.MaxBytes, q.Tail)
		return rd.data, rd
	}
	var ro, re ringRead
	res.Stdout, ro = readOne(p.out, q.Offset.Stdout, wantOut)
	res.Stderr, re = readOne(p.errb, q.Offset.Stderr, wantErr)
	res.StdoutBytes, res.StderrBytes = ro.total, re.total
	res.Offset = StreamCounts{Stdout: ro.start, Stderr: re.start}
	res.NextOffset = StreamCounts{Stdout: ro.next, Stderr: re.next}
	res.DroppedBytes = StreamCounts{Stdout: ro.dropped, Stderr: re.dropped}
	return res, nil
}

// SendStdin writes data to agent's process stdin and closes it when
// closeStdin is set. Binary-data checks (blockBinaryStdin) are the caller's;
// caller labels the audit record (an MCP tool, "run").
func (s *Supervisor) SendStdin(agent string, pid int, data []byte, closeStdin bool, caller string) (int, error) {
	if err := policy.CheckStdinAllowed(s.cfg); err != nil {
		return 0, err
	}
	p, err := s.lookup(agent, pid)
	if err != nil {
		return 0, err
	}
	if p.isExited() {
		return 0, errcode.Fail(errcode.InvalidInput, layer.IO, "", "process %d has exited", pid)
	}
	if !p.stdinOpen.Load() {
		return 0, errcode.Fail(errcode.InvalidInput, layer.IO, `start the process with stdin "pipe"`,
			"process %d has no stdin pipe (started with stdin \"null\", or stdin already closed)", pid)
	}
	n, werr := p.writeStdin(data, time.Now().Add(stdinWriteTimeout), nil)
	if n > 0 || werr == nil {
		if err := s.record(audit.Record{Event: audit.EventStdin, Agent: agent, Tool: caller, PID: pid, Bytes: n}); err != nil {
			return n, auditFailed(err)
		}
	}
	if werr != nil {
		return n, werr
	}
	if closeStdin {
		if p.tty != nil {
			if _, err := p.sendEOF(time.Now().Add(stdinWriteTimeout)); err != nil {
				return n, err
			}
		} else {
			p.closeStdin()
		}
	}
	return n, nil
}

// writeStdin writes all of data to p's stdin pipe, giving up at deadline
// (zero = never) or when stop closes or the process exits.
func (p *proc) writeStdin(data []byte, deadline time.Time, stop <-chan struct{}) (int, error) {
	written := 0
	for len(data) > 0 {
		step := time.Now().Add(250 * time.Millisecond)
		if !deadline.IsZero() && deadline.Before(step) {
			step = deadline
		}
		// The lock is held per attempt, not for the whole write, so a
		// blocked writer never holds up closeStdin or another writer for long.
		p.stdinMu.Lock()
		f := p.stdin
		if f == nil {
			p.stdinMu.Unlock()
			return written, errcode.Fail(errcode.InvalidInput, layer.IO, "", "process %d's stdin is closed", p.pid)
		}
		f.SetWriteDeadline(step)
		n, err := f.Write(data)
		p.stdinMu.Unlock()
		written += n
		data = data[n:]
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return written, errcode.Fail(errcode.InvalidInput, layer.IO, "", "process %d is not reading its stdin any more: %v", p.pid, err)
		}
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return written, errcode.Fail(errcode.InvalidInput, layer.IO, "send less, or let the process read first",
				"process %d did not read its stdin in time (%d bytes written)", p.pid, written)
		}
		select {
		case <-stop:
			return written, errcode.Fail(errcode.Internal, layer.IO, "", "stopped")
		case <-p.sp.Done():
			return written, errcode.Fail(errcode.InvalidInput, layer.IO, "", "process %d has exited", p.pid)
		default:
		}
	}
	return written, nil
}

func (p *proc) closeStdin() {
	p.stdinMu.Lock()
	defer p.stdinMu.Unlock()
	if p.stdin != nil {
		p.stdin.Close()
		p.stdin = nil
		p.stdinOpen.Store(false)
	}
}
