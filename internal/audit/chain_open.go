// Opening a chain: restoring where it ends (the live file or its newest
// rotated sibling) and checking that end against the head file, repairing
// only a line a crash cut before it was acknowledged.

package audit

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// chainOptions are openChain's settings.
type chainOptions struct {
	maxBytes int64
	keep     int
	key      *Key
	every    int // 0: DefaultCheckpointEvery
	now      func() time.Time
}

// openChain opens (creating) path for appending and restores seq and
// prevHash from the last record of the chain (the live file, or its newest
// rotated sibling when the live file is empty). It checks the chain's end
// against the head file: a log that ends before its head (records cut from
// the end) or whose last record is not the head's is refused. A partial
// last line after the head's record (a write cut by a crash: never synced,
// never acknowledged) is removed. notes are what the caller records.
func openChain(path string, o chainOptions) (c *chainFile, notes []string, err error) {
	f, size, err := openLiveFile(path)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*chainFile, []string, error) {
		f.Close()
		return nil, nil, err
	}
	if o.every <= 0 {
		o.every = DefaultCheckpointEvery
	}
	if o.now == nil {
		o.now = time.Now
	}
	c = &chainFile{path: path, maxBytes: o.maxBytes, keep: o.keep, key: o.key, every: o.every, now: o.now,
		f: f, size: size, prev: GenesisHash}
	last, partial, err := readChainTail(path)
	if err != nil {
		return fail(err)
	}
	head, err := ReadHead(path)
	if err != nil {
		return fail(fmt.Errorf("audit log %s: %v; run `mcp-process audit verify %s`", HeadPath(path), err, path))
	}
	notes, err = c.checkTailAgainstHead(last, partial, head)
	if err != nil {
		return fail(err)
	}
	if err := c.restoreFromTail(last, head); err != nil {
		return fail(err)
	}
	c.headStop, c.headDone = make(chan struct{}), make(chan struct{})
	go c.headLoop()
	return c, notes, nil
}

// openLiveFile creates path's directory and opens path (creating it) for
// appending; it must be a regular file, not a symbolic link. size is its current length.
func openLiveFile(path string) (f *os.File, size int64, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, 0, fmt.Errorf("audit log %s: create directory: %w", path, err)
	}
	// O_NOFOLLOW: a symbolic link at the log's name (planted by whoever
	// could write its directory) is refused, never appended through.
	f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|oNoFollow, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return nil, 0, fmt.Errorf("audit log %s is a symbolic link: give the path of the file itself (a link could be planted to make the server write elsewhere)", path)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("audit log %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("audit log %s: not a regular file", path)
	}
	return f, st.Size(), nil
}

// readChainTail returns the last record of the chain and the length of a
// partial line after it (see lastRecord): from the live file, or from its
// newest rotated sibling when the live file is empty. A rotated file must
// not end with a partial line.
func readChainTail(path string) (last *tailRecord, partial int64, err error) {
	last, partial, err = lastRecord(path)
	if err == nil && last == nil && partial == 0 {
		// Empty live file: the chain may continue from a rotated file.
		if _, serr := os.Stat(path + ".1"); serr == nil {
			last, partial, err = lastRecord(path + ".1")
			if err == nil && partial > 0 {
				err = fmt.Errorf("audit log %s.1: its last line is truncated; run `mcp-process audit verify %s`", path, path)
			}
		}
	}
	return last, partial, err
}

// checkTailAgainstHead refuses a chain whose end contradicts its head file
// (records cut from the end, a rewritten last record, or a partial line
// with no head to tell a crash from a cut) and repairs the one case that is
// a crash: a partial line after the head's record, which it removes.
func (c *chainFile) checkTailAgainstHead(last *tailRecord, partial int64, head *Head) (notes []string, err error) {
	path := c.path
	var lastSeq uint64
	if last != nil {
		lastSeq = last.seq
	}
	torn := ""
	if partial > 0 {
		n, _ := countLines(path)
		torn = fmt.Sprintf("line %d is truncated (no newline at the end of the file)", n)
	}
	switch {
	case head != nil && head.Seq > lastSeq:
		what := ""
		if torn != "" {
			what = torn + "; "
		}
		return nil, fmt.Errorf("audit log %s: %sits records end at seq %d but its head %s (written %s) records seq %d: "+
			"%d acknowledged record(s) were cut from its end; run `mcp-process audit verify %s`, keep the log as evidence "+
			"and move it aside with its .head file to start a new one", path, what, lastSeq, HeadPath(path), headTime(head),
			head.Seq, head.Seq-lastSeq, path)
	case head != nil && head.Seq > 0 && head.Seq == lastSeq && head.Hash != last.hash:
		return nil, fmt.Errorf("audit log %s: its last record (seq %d) has hash %s but its head %s records %s: "+
			"the chain was rewritten; run `mcp-process audit verify %s`", path, lastSeq, short(last.hash), HeadPath(path),
			short(head.Hash), path)
	case partial > 0 && head == nil:
		return nil, fmt.Errorf("audit log %s: %s and there is no head file to tell a crash from a cut; "+
			"run `mcp-process audit verify %s`, then remove the partial line", path, torn, path)
	case partial > 0:
		// The head's record is complete and before the partial line: that
		// line is a write a crash cut before its fsync returned.
		if err := c.removeTornLine(partial); err != nil {
			return nil, err
		}
		notes = append(notes, fmt.Sprintf("%s: removed a partial last line (%d bytes) after seq %d, a record a crash "+
			"cut before it was synced (never acknowledged; the head records seq %d)", path, partial, lastSeq, head.Seq))
	case head == nil && lastSeq > 0:
		notes = append(notes, fmt.Sprintf("%s: its head file %s was missing (a log from an older version, or deleted): "+
			"records cut from the end before seq %d would not be detected", path, HeadPath(path), lastSeq))
	}
	return notes, nil
}

// removeTornLine truncates the partial last line (partial bytes) off the
// live file and syncs it.
func (c *chainFile) removeTornLine(partial int64) error {
	if err := c.f.Truncate(c.size - partial); err != nil {
		return fmt.Errorf("audit log %s: remove the partial last line: %w", c.path, err)
	}
	if err := c.f.Sync(); err != nil {
		return fmt.Errorf("audit log %s: %w", c.path, err)
	}
	c.size -= partial
	return nil
}

// restoreFromTail sets seq and prevHash from the chain's last record and
// brings the head file up to date with it: rewritten when it is behind (or
// unsigned while a key is set), written for seq 0 when a new log has none.
func (c *chainFile) restoreFromTail(last *tailRecord, head *Head) error {
	if last != nil {
		c.seq, c.prev = last.seq, last.hash
	}
	c.syncedSeq, c.syncedHash = c.seq, c.prev
	if c.key != nil {
		c.since = c.every - 1 // the first record of the run gets a checkpoint
	}
	if c.seq > 0 {
		if head != nil && head.Seq == c.seq && (c.key == nil || head.Signature != "") {
			c.headSeq.Store(c.seq)
		} else if err := c.flushHead(); err != nil {
			return err
		}
	} else if head == nil {
		// No record yet: the head says so before the first one is written,
		// so that a crash after that record's fsync and before its head
		// leaves a log whose head is behind (fine), never one without.
		h := Head{Seq: 0, Hash: GenesisHash, Time: c.now().UTC().Format(time.RFC3339Nano)}
		if err := writeHead(c.path, h, c.key); err != nil {
			return fmt.Errorf("audit log %s: write its head: %w", c.path, err)
		}
	}
	return nil
}

type tailRecord struct {
	seq  uint64
	hash string
}

// lastRecord reads the last complete line of path and checks it: it must
// parse and carry a hash that matches its content. partial is the length
// of what follows it without a terminating newline (a cut last line). It
// returns nil, 0 for an empty file.
func lastRecord(path string) (rec *tailRecord, partial int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("audit log %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("audit log %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil, 0, nil
	}
	// Read backwards until the start of the last complete line is found.
	const chunk = 64 << 10
	var tail []byte
	off := size
	var line []byte
	for {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, fmt.Errorf("audit log %s: %w", path, err)
		}
		tail = append(buf, tail...)
		end := bytes.LastIndexByte(tail, '\n')
		if end < 0 {
			if off == 0 {
				return nil, int64(len(tail)), nil // no complete line at all
			}
			continue
		}
		partial = int64(len(tail) - end - 1)
		if i := bytes.LastIndexByte(tail[:end], '\n'); i >= 0 {
			line = tail[i+1 : end]
			break
		}
		if off == 0 {
			line = tail[:end]
			break
		}
	}
	lineNo := func() int { // 1-based number of the last complete line, for messages
		n, _ := countLines(path)
		if partial > 0 {
			n--
		}
		return n
	}
	p, err := parseLine(line)
	if err == nil && p.computed != p.hash {
		err = errors.New("hash does not match the record's content")
	}
	if err != nil {
		return nil, 0, fmt.Errorf("audit log %s: last record (line %d) is unreadable: %v; "+
			"run `mcp-process audit verify %s`", path, lineNo(), err, path)
	}
	return &tailRecord{seq: p.seq, hash: p.hash}, partial, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	n, partial := 0, false
	for {
		b, err := r.ReadSlice('\n')
		if len(b) > 0 {
			partial = b[len(b)-1] != '\n'
			if !partial {
				n++
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			break
		}
	}
	if partial {
		n++
	}
	return n, nil
}
