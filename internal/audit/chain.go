package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// GenesisHash is the prevHash of the first record of a chain: 64 zeros.
var GenesisHash = strings.Repeat("0", 64)

// chainHash computes hex SHA-256(prevHash text || JCS(obj without "hash")).
// obj is modified: its "hash" member is removed.
func chainHash(prevHash string, obj map[string]any) (string, error) {
	delete(obj, "hash")
	var b bytes.Buffer
	b.WriteString(prevHash)
	if err := writeCanonical(&b, obj); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b.Bytes())
	return hex.EncodeToString(sum[:]), nil
}

// marshalRecord encodes r as JSON without HTML escaping and without a
// trailing newline.
func marshalRecord(r *Record) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// recordObject is r as the generic JSON object that hashes and signatures
// are computed over (what a verifier reads back from the line).
func recordObject(r *Record) (map[string]any, error) {
	raw, err := marshalRecord(r)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("record is not a JSON object")
	}
	return obj, nil
}

// sealRecord sets r.Hash from r's other fields (r.PrevHash included): the
// hash chainHash computes over recordObject(r), from the canonical form
// built directly (appendCanonicalRecord) when it can be.
func sealRecord(r *Record) error {
	r.Hash = ""
	var b bytes.Buffer
	b.WriteString(r.PrevHash)
	if appendCanonicalRecord(&b, r) {
		sum := sha256.Sum256(b.Bytes())
		r.Hash = hex.EncodeToString(sum[:])
		return nil
	}
	obj, err := recordObject(r)
	if err != nil {
		return err
	}
	h, err := chainHash(r.PrevHash, obj)
	if err != nil {
		return err
	}
	r.Hash = h
	return nil
}

// chainFile is one append-only, hash-chained, size-rotated JSONL file.
// Appends are serialized by mu; fsyncs are shared by concurrent callers
// (group commit) under syncMu. Lock order: syncMu, then mu. Its head file
// (head.go) is rewritten by one goroutine it owns, stopped by close.
type chainFile struct {
	path     string
	maxBytes int64
	keep     int
	key      *Key // nil: no checkpoints, unsigned head
	every    int  // records between checkpoints
	now      func() time.Time

	mu         sync.Mutex
	f          *os.File
	size       int64
	seq        uint64 // last seq written
	prev       string // hash of the last record written
	syncedSeq  uint64 // every record up to this seq is on disk
	syncedHash string // the hash of record syncedSeq
	since      int    // records written since the last checkpoint
	broken     error  // set after a failure that leaves the file state unknown
	closed     bool

	syncMu sync.Mutex

	headMu   sync.Mutex
	headSeq  atomic.Uint64 // the seq the head file holds (written under headMu)
	headStop chan struct{}
	headDone chan struct{}
}

// headLoop rewrites the head every HeadInterval while records are written.
func (c *chainFile) headLoop() {
	defer close(c.headDone)
	t := time.NewTicker(HeadInterval)
	defer t.Stop()
	for {
		select {
		case <-c.headStop:
			return
		case <-t.C:
			_ = c.flushHead() // retried at the next tick; close reports it
		}
	}
}

// flushHead writes the head file for the last synced record, if it moved.
func (c *chainFile) flushHead() error {
	c.headMu.Lock()
	defer c.headMu.Unlock()
	c.mu.Lock()
	seq, hash := c.syncedSeq, c.syncedHash
	c.mu.Unlock()
	if seq == 0 || seq == c.headSeq.Load() {
		return nil
	}
	h := Head{Seq: seq, Hash: hash, Time: c.now().UTC().Format(time.RFC3339Nano)}
	if err := writeHead(c.path, h, c.key); err != nil {
		return fmt.Errorf("audit log %s: write its head: %w", c.path, err)
	}
	c.headSeq.Store(seq)
	return nil
}

// parsedLine is one record as read back from a file.
type parsedLine struct {
	seq      uint64
	prevHash string
	hash     string
	computed string
	// A checkpoint's event, signature and what the signature covers.
	event, alg, signature string
	every                 int
	signed                []byte
}

// parseLine decodes one record line and recomputes its hash.
func parseLine(line []byte) (*parsedLine, error) {
	v, err := decodeJSON(line)
	if err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	p := &parsedLine{}
	num, ok := obj["seq"].(json.Number)
	if !ok {
		return nil, errors.New(`missing or non-numeric "seq"`)
	}
	if p.seq, err = strconv.ParseUint(string(num), 10, 64); err != nil || p.seq == 0 {
		return nil, fmt.Errorf(`invalid "seq" %s`, num)
	}
	if p.prevHash, ok = obj["prevHash"].(string); !ok || !isHexHash(p.prevHash) {
		return p, errors.New(`missing or malformed "prevHash"`)
	}
	if p.hash, ok = obj["hash"].(string); !ok || !isHexHash(p.hash) {
		return p, errors.New(`missing or malformed "hash"`)
	}
	if p.computed, err = chainHash(p.prevHash, obj); err != nil {
		return p, err
	}
	if p.event, _ = obj["event"].(string); p.event == EventCheckpoint {
		p.alg, _ = obj["signatureAlg"].(string)
		p.signature, _ = obj["signature"].(string)
		if n, ok := obj["every"].(json.Number); ok {
			if v, err := strconv.Atoi(string(n)); err == nil && v > 0 {
				p.every = v
			}
		}
		if p.signed, err = checkpointMessage(obj); err != nil {
			return p, err
		}
	}
	return p, nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// append seals r as the next record of the chain, writes it and returns
// once it is on disk. r's Seq, PrevHash and Hash are set on success. With a
// key, a checkpoint due after r is written with it, in the same write.
func (c *chainFile) append(r *Record) error {
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return err
	}
	r.Seq = c.seq + 1
	r.PrevHash = c.prev
	line, err := c.encode(r)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	last := r
	if c.key != nil && c.since+1 >= c.every {
		cp := c.checkpoint(r.Seq+1, r.Hash, r.Time)
		cpLine, err := c.encode(cp)
		if err != nil {
			c.mu.Unlock()
			return err
		}
		line = append(line, cpLine...)
		last = cp
	}
	if err := c.writeLocked(line); err != nil {
		c.mu.Unlock()
		return err
	}
	if last != r {
		c.since = 0
	} else if c.key != nil {
		c.since++
	}
	c.seq = last.Seq
	c.prev = last.Hash
	seq := c.seq
	c.mu.Unlock()
	return c.syncThrough(seq)
}

// encode seals r and returns its line (with the newline).
func (c *chainFile) encode(r *Record) ([]byte, error) {
	if err := sealRecord(r); err != nil {
		return nil, fmt.Errorf("audit log %s: encode record: %w", c.path, err)
	}
	line, err := marshalRecord(r)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: encode record: %w", c.path, err)
	}
	return append(line, '\n'), nil
}

// checkpoint returns the signed checkpoint record seq, after prevHash.
func (c *chainFile) checkpoint(seq uint64, prevHash, at string) *Record {
	cp := &Record{Time: at, Seq: seq, Level: LevelInfo, Event: EventCheckpoint, PrevHash: prevHash, Every: c.every,
		Reason: "signed checkpoint: the chain up to here is authenticated by auditSigningKeyFile"}
	if err := signCheckpoint(cp, c.key); err != nil {
		cp.Reason = "checkpoint could not be signed: " + err.Error() // fails verify --key: never silent
	}
	return cp
}

// writeLocked (mu held) writes whole lines, rotating first when they would
// take the file over maxBytes. A partial write is undone.
func (c *chainFile) writeLocked(line []byte) error {
	if c.maxBytes > 0 && c.size > 0 && c.size+int64(len(line)) > c.maxBytes {
		if err := c.rotate(); err != nil {
			return err
		}
	}
	if n, err := c.f.Write(line); err != nil {
		// Undo a partial line so the file stays a valid chain.
		if n > 0 {
			if terr := c.f.Truncate(c.size); terr != nil {
				c.broken = fmt.Errorf("audit log %s: partial write could not be undone: %v", c.path, terr)
			}
		}
		return fmt.Errorf("audit log %s: write: %w", c.path, err)
	}
	c.size += int64(len(line))
	return nil
}

func (c *chainFile) usable() error {
	if c.closed {
		return fmt.Errorf("audit log %s: closed", c.path)
	}
	return c.broken
}

// syncFile is a record's sync, fdatasync on Linux (a variable so a test
// can count and slow it).
var syncFile = dataSync

// syncThrough returns once every record up to seq is on disk. One caller
// fsyncs for all records written before it started (group commit).
func (c *chainFile) syncThrough(seq uint64) error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	if c.syncedSeq >= seq {
		c.mu.Unlock()
		return nil
	}
	if c.broken != nil {
		err := c.broken
		c.mu.Unlock()
		return err
	}
	f, target, targetHash := c.f, c.seq, c.prev
	c.mu.Unlock()

	err := syncFile(f)

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.syncedSeq >= seq {
		return nil // a rotation synced and closed f meanwhile
	}
	if err != nil {
		// After a failed fsync the kernel may have dropped the data: what is
		// on disk is unknown, so the log refuses every further write.
		c.broken = fmt.Errorf("audit log %s: fsync failed earlier: %v", c.path, err)
		return fmt.Errorf("audit log %s: fsync: %w", c.path, err)
	}
	if target > c.syncedSeq {
		c.syncedSeq, c.syncedHash = target, targetHash
	}
	if c.headSeq.Load() == 0 {
		// A log's first records: its head is written now, not a second
		// later, so that a crash in that second still leaves a head.
		c.mu.Unlock()
		err := c.flushHead()
		c.mu.Lock()
		return err
	}
	return nil
}

// rotate (mu held) syncs and closes the live file, shifts path.N to
// path.N+1 (dropping beyond keep), renames the live file to path.1 and opens
// a fresh live file. The chain (seq, prev) continues unchanged.
func (c *chainFile) rotate() error {
	if err := c.f.Sync(); err != nil {
		c.broken = fmt.Errorf("audit log %s: fsync failed earlier: %v", c.path, err)
		return fmt.Errorf("audit log %s: fsync before rotation: %w", c.path, err)
	}
	c.syncedSeq, c.syncedHash = c.seq, c.prev
	if err := c.f.Close(); err != nil {
		c.broken = fmt.Errorf("audit log %s: close before rotation: %v", c.path, err)
		return c.broken
	}
	c.f = nil
	rotated := func(i int) string { return c.path + "." + strconv.Itoa(i) }
	if err := os.Remove(rotated(c.keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		c.broken = fmt.Errorf("audit log %s: rotation: %v", c.path, err)
		return c.broken
	}
	for i := c.keep - 1; i >= 1; i-- {
		if err := os.Rename(rotated(i), rotated(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			c.broken = fmt.Errorf("audit log %s: rotation: %v", c.path, err)
			return c.broken
		}
	}
	if err := os.Rename(c.path, rotated(1)); err != nil {
		c.broken = fmt.Errorf("audit log %s: rotation: %v", c.path, err)
		return c.broken
	}
	f, err := os.OpenFile(c.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		c.broken = fmt.Errorf("audit log %s: rotation: %v", c.path, err)
		return c.broken
	}
	c.f, c.size = f, 0
	syncDir(filepath.Dir(c.path))
	return nil
}

// syncDir makes renames and creations in dir durable (best effort).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// close writes a checkpoint (with a key, when records followed the last
// one), syncs and closes the file, stops the head goroutine and writes the
// final head.
func (c *chainFile) close() error {
	c.syncMu.Lock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.syncMu.Unlock()
		return nil
	}
	c.closed = true
	var errs []error
	if c.f != nil {
		if c.key != nil && c.since > 0 && c.broken == nil {
			cp := c.checkpoint(c.seq+1, c.prev, c.now().UTC().Format(time.RFC3339Nano))
			line, err := c.encode(cp)
			if err == nil {
				err = c.writeLocked(line)
			}
			if err == nil {
				c.seq, c.prev, c.since = cp.Seq, cp.Hash, 0
			}
			errs = append(errs, err)
		}
		if c.f != nil {
			err := c.f.Sync()
			if err == nil && c.broken == nil {
				c.syncedSeq, c.syncedHash = c.seq, c.prev
			}
			if cerr := c.f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("audit log %s: close: %w", c.path, err))
			}
		}
	}
	c.mu.Unlock()
	c.syncMu.Unlock()
	if c.headStop != nil {
		close(c.headStop)
		<-c.headDone
	}
	errs = append(errs, c.flushHead())
	return errors.Join(errs...)
}
