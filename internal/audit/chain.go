package audit

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// sealRecord sets r.Hash from r's other fields (r.PrevHash included).
func sealRecord(r *Record) error {
	r.Hash = ""
	raw, err := marshalRecord(r)
	if err != nil {
		return err
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return errors.New("record is not a JSON object")
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
// (group commit) under syncMu. Lock order: syncMu, then mu.
type chainFile struct {
	path     string
	maxBytes int64
	keep     int

	mu        sync.Mutex
	f         *os.File
	size      int64
	seq       uint64 // last seq written
	prev      string // hash of the last record written
	syncedSeq uint64 // every record up to this seq is on disk
	broken    error  // set after a failure that leaves the file state unknown
	closed    bool

	syncMu sync.Mutex
}

// openChain opens (creating) path for appending and restores seq and
// prevHash from the last record of the chain (the live file, or its newest
// rotated sibling when the live file is empty).
func openChain(path string, maxBytes int64, keep int) (*chainFile, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit log %s: create directory: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("audit log %s: not a regular file", path)
	}
	c := &chainFile{path: path, maxBytes: maxBytes, keep: keep, f: f, size: st.Size(), prev: GenesisHash}
	last, err := lastRecord(path)
	if err == nil && last == nil {
		// Empty live file: the chain may continue from a rotated file.
		if _, serr := os.Stat(path + ".1"); serr == nil {
			last, err = lastRecord(path + ".1")
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if last != nil {
		c.seq, c.prev = last.seq, last.hash
	}
	c.syncedSeq = c.seq
	return c, nil
}

type tailRecord struct {
	seq  uint64
	hash string
}

// lastRecord reads the last line of path and checks it: it must end with a
// newline, parse, and carry a hash that matches its content. It returns nil
// for an empty file.
func lastRecord(path string) (*tailRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", path, err)
	}
	size := st.Size()
	if size == 0 {
		return nil, nil
	}
	// Read backwards until the line before the last one is found.
	const chunk = 64 << 10
	var tail []byte
	off := size
	for {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("audit log %s: %w", path, err)
		}
		tail = append(buf, tail...)
		body := tail
		if len(body) > 0 && body[len(body)-1] == '\n' {
			body = body[:len(body)-1]
		}
		if bytes.IndexByte(body, '\n') >= 0 || off == 0 {
			break
		}
	}
	lineNo := func() int { // 1-based number of the last line, for messages
		n, _ := countLines(path)
		return n
	}
	if tail[len(tail)-1] != '\n' {
		return nil, fmt.Errorf("audit log %s: line %d is truncated (no newline at the end of the file); "+
			"run `mcp-process audit verify %s`, then remove the partial line", path, lineNo(), path)
	}
	line := tail[:len(tail)-1]
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	rec, err := parseLine(line)
	if err == nil && rec.computed != rec.hash {
		err = errors.New("hash does not match the record's content")
	}
	if err != nil {
		return nil, fmt.Errorf("audit log %s: last record (line %d) is unreadable: %v; "+
			"run `mcp-process audit verify %s`", path, lineNo(), err, path)
	}
	return &tailRecord{seq: rec.seq, hash: rec.hash}, nil
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

// parsedLine is one record as read back from a file.
type parsedLine struct {
	seq      uint64
	prevHash string
	hash     string
	computed string
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
// once it is on disk. r's Seq, PrevHash and Hash are set on success.
func (c *chainFile) append(r *Record) error {
	c.mu.Lock()
	if err := c.usable(); err != nil {
		c.mu.Unlock()
		return err
	}
	r.Seq = c.seq + 1
	r.PrevHash = c.prev
	if err := sealRecord(r); err != nil {
		c.mu.Unlock()
		return fmt.Errorf("audit log %s: encode record: %w", c.path, err)
	}
	line, err := marshalRecord(r)
	if err != nil {
		c.mu.Unlock()
		return fmt.Errorf("audit log %s: encode record: %w", c.path, err)
	}
	line = append(line, '\n')
	if c.maxBytes > 0 && c.size > 0 && c.size+int64(len(line)) > c.maxBytes {
		if err := c.rotate(); err != nil {
			c.mu.Unlock()
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
		c.mu.Unlock()
		return fmt.Errorf("audit log %s: write: %w", c.path, err)
	}
	c.size += int64(len(line))
	c.seq = r.Seq
	c.prev = r.Hash
	seq := c.seq
	c.mu.Unlock()
	return c.syncThrough(seq)
}

func (c *chainFile) usable() error {
	if c.closed {
		return fmt.Errorf("audit log %s: closed", c.path)
	}
	return c.broken
}

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
	f, target := c.f, c.seq
	c.mu.Unlock()

	err := f.Sync()

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
		c.syncedSeq = target
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
	c.syncedSeq = c.seq
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

func (c *chainFile) close() error {
	c.syncMu.Lock()
	defer c.syncMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	if c.f == nil {
		return nil
	}
	err := c.f.Sync()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit log %s: close: %w", c.path, err)
	}
	return nil
}
