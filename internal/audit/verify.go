package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// VerifyResult summarizes a verified chain.
type VerifyResult struct {
	Files    []string // the files read, oldest first
	Records  int
	FirstSeq uint64
	LastSeq  uint64
	LastHash string
	// Continuation is true when the first record is not the first record
	// ever (seq > 1): older files were rotated away, so the chain is
	// verified from FirstSeq on. Only a rotated file (name ending in .N)
	// may start a chain after seq 1.
	Continuation bool
	// Head is the head file checked (VerifyLog without NoHead).
	Head *Head
	// Checkpoints counts the checkpoint records; with a key they were all
	// checked, LastCheckpoint being the seq of the last one.
	Checkpoints    int
	LastCheckpoint uint64
	// TornBytes is the length of a partial last line after the head's
	// record: a write cut by a crash before its fsync returned, so never
	// acknowledged and not part of the chain (the server removes it at its
	// next start).
	TornBytes int64
}

// VerifyOptions are VerifyLog's checks beyond the chain.
type VerifyOptions struct {
	// Key checks every checkpoint's signature and the head's, and requires
	// at least one checkpoint and at most its "every" records after the
	// last one.
	Key *Key
	// NoHead skips the head file (a log copied without it): a cut tail is
	// then not detected, and a partial last line is an error.
	NoHead bool
}

// VerifyError names the first bad record.
type VerifyError struct {
	File   string
	Line   int    // 1-based; 0 when the problem is not one line's
	Seq    uint64 // 0 when the line has no readable seq
	Reason string
	// torn: the line has no terminating newline (tornBytes long).
	torn      bool
	tornBytes int64
}

func (e *VerifyError) Error() string {
	seq := "seq unknown"
	if e.Seq != 0 {
		seq = "seq " + strconv.FormatUint(e.Seq, 10)
	}
	if e.Line == 0 {
		if e.Seq == 0 {
			return fmt.Sprintf("%s: %s", e.File, e.Reason)
		}
		return fmt.Sprintf("%s (%s): %s", e.File, seq, e.Reason)
	}
	return fmt.Sprintf("%s:%d (%s): %s", e.File, e.Line, seq, e.Reason)
}

// VerifyLog verifies path's chain like VerifyFile, then its head file and,
// with a key, its signed checkpoints (head.go): a log that ends before its
// head lost acknowledged records from its end; a record at the head's seq
// with another hash, a checkpoint or head whose signature does not check,
// no checkpoint at all, or more than a checkpoint interval of records after
// the last one mean the chain was rewritten. A partial last line after the
// head's record is a crash's, not an error (TornBytes).
func VerifyLog(path string, opts VerifyOptions) (*VerifyResult, error) {
	files, err := ChainFiles(path)
	if err != nil {
		return nil, err
	}
	v := &verifier{res: &VerifyResult{}, key: opts.Key}
	var head *Head
	if !opts.NoHead {
		hp := HeadPath(path)
		if head, err = ReadHead(path); err != nil {
			return v.res, &VerifyError{File: hp, Reason: err.Error()}
		}
		if head == nil {
			return v.res, &VerifyError{File: hp, Reason: "the head file is missing (deleted?), so records cut from the end " +
				"cannot be detected; with --no-head the chain alone is checked"}
		}
		if opts.Key != nil {
			if head.Signature == "" {
				return v.res, &VerifyError{File: hp, Reason: "the head is not signed although a key was given: " +
					"it was rewritten, or the server ran without auditSigningKeyFile"}
			}
			if !opts.Key.check(head.Alg, headMessage(head), head.Signature) {
				return v.res, &VerifyError{File: hp, Reason: fmt.Sprintf("the head's %s signature does not check with this key: "+
					"the head was rewritten, or signed with another key", head.Alg)}
			}
		}
		v.res.Head = head
		v.headSeq = head.Seq
	}
	res := v.res
	err = v.verify(files)
	var ve *VerifyError
	if errors.As(err, &ve) && ve.torn && ve.File == path && head != nil && res.LastSeq >= head.Seq {
		res.TornBytes = ve.tornBytes
		err = nil
	}
	if head != nil && (err == nil || ve != nil && ve.torn && ve.File == path) && head.Seq > res.LastSeq {
		what := ""
		if ve != nil && ve.torn {
			what = fmt.Sprintf("its last line (line %d) is cut short and ", ve.Line)
		}
		return res, &VerifyError{File: path, Seq: res.LastSeq, Reason: fmt.Sprintf("TRUNCATED: %sits records end at seq %d "+
			"but its head (%s, written %s) records seq %d: %d acknowledged record(s) were cut from the end",
			what, res.LastSeq, HeadPath(path), headTime(head), head.Seq, head.Seq-res.LastSeq)}
	}
	if err != nil {
		return res, err
	}
	if head != nil && head.Seq > 0 && head.Seq >= res.FirstSeq && v.headHash != head.Hash {
		return res, &VerifyError{File: path, Seq: head.Seq, Reason: fmt.Sprintf("REWRITTEN: the record at seq %d has hash %s "+
			"but the head (written %s) recorded %s: the chain was rewritten", head.Seq, short(v.headHash), headTime(head), short(head.Hash))}
	}
	if opts.Key != nil {
		if res.Checkpoints == 0 {
			return res, &VerifyError{File: path, Reason: "REWRITTEN: no signed checkpoint in the chain: with auditSigningKeyFile " +
				"the server writes one after the first record of each run, so the chain was rewritten " +
				"(or the server never had the key)"}
		}
		every := v.lastEvery
		if every <= 0 {
			every = DefaultCheckpointEvery
		}
		if after := res.LastSeq - res.LastCheckpoint; after > uint64(every) {
			return res, &VerifyError{File: path, Seq: res.LastSeq, Reason: fmt.Sprintf("%d records follow the last signed "+
				"checkpoint (seq %d), at most %d expected: records were added after it or checkpoints removed",
				after, res.LastCheckpoint, every)}
		}
	}
	return res, nil
}

// VerifyFile verifies path together with its rotated siblings, oldest
// first: path.N ... path.1, then path itself.
func VerifyFile(path string) (*VerifyResult, error) {
	files, err := ChainFiles(path)
	if err != nil {
		return nil, err
	}
	return Verify(files...)
}

// ChainFiles lists path's rotated siblings (path.N, numeric N) from the
// oldest to the newest, followed by path.
func ChainFiles(path string) ([]string, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	matches, err := filepath.Glob(globEscape(path) + ".*")
	if err != nil {
		return nil, err
	}
	type rotated struct {
		n    int
		path string
	}
	var rs []rotated
	for _, m := range matches {
		suffix := strings.TrimPrefix(m, path+".")
		n, err := strconv.Atoi(suffix)
		if err != nil || n < 1 || strconv.Itoa(n) != suffix {
			continue
		}
		rs = append(rs, rotated{n, m})
	}
	slices.SortFunc(rs, func(a, b rotated) int { return b.n - a.n })
	files := make([]string, 0, len(rs)+1)
	for _, r := range rs {
		files = append(files, r.path)
	}
	return append(files, path), nil
}

func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Verify checks that paths, in order, hold one continuous chain: every line
// a JSON record ending in a newline, seq increasing by one, prevHash equal
// to the previous record's hash (64 zeros before seq 1), and hash matching
// the record's content. The error is a *VerifyError naming the first bad
// record (or an I/O error); the result counts the good records before it.
func Verify(paths ...string) (*VerifyResult, error) {
	v := &verifier{res: &VerifyResult{}}
	return v.res, v.verify(paths)
}

// verifier carries the state of one verification across files.
type verifier struct {
	res      *VerifyResult
	prevHash string
	key      *Key   // nil: checkpoints are counted, not checked
	headSeq  uint64 // the head's seq: its record's hash is kept
	headHash string
	// lastEvery is the last checkpoint's interval.
	lastEvery int
}

func (v *verifier) verify(paths []string) error {
	if len(paths) == 0 {
		return errors.New("audit verify: no file")
	}
	for _, path := range paths {
		v.res.Files = append(v.res.Files, path)
		if err := v.verifyOne(path); err != nil {
			return err
		}
	}
	if v.res.Records == 0 {
		return &VerifyError{File: paths[len(paths)-1], Line: 0, Reason: "no records"}
	}
	return nil
}

// verifyOne checks the records of one file of the chain, line by line.
func (v *verifier) verifyOne(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for lineNo := 1; ; lineNo++ {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := v.verifyLine(path, lineNo, line); err != nil {
			return err
		}
	}
}

// badRecord makes the *VerifyError for a record of the line being checked.
type badRecord func(seq uint64, format string, a ...any) error

// verifyLine checks one line as read (its newline included, when it has
// one): complete, a record that parses, linked to the one before, and
// hashed (and signed, for a checkpoint) as it should be. A good record is
// counted.
func (v *verifier) verifyLine(path string, lineNo int, line []byte) error {
	bad := func(seq uint64, format string, a ...any) error {
		return &VerifyError{File: path, Line: lineNo, Seq: seq, Reason: fmt.Sprintf(format, a...)}
	}
	if line[len(line)-1] != '\n' {
		var seq uint64
		if p, perr := parseLine(line); perr == nil {
			seq = p.seq
		}
		return &VerifyError{File: path, Line: lineNo, Seq: seq, Reason: "truncated last line (no terminating newline)",
			torn: true, tornBytes: int64(len(line))}
	}
	p, perr := parseLine(line[:len(line)-1])
	if perr != nil {
		var seq uint64
		if p != nil {
			seq = p.seq
		}
		return bad(seq, "%v", perr)
	}
	if err := v.checkLink(path, p, bad); err != nil {
		return err
	}
	return v.addRecord(p, bad)
}

// checkLink checks that p continues the chain: the first record checked
// starts it (seq 1 after the genesis hash, or a later seq in a rotated
// file), every other one follows the previous record's seq and hash.
func (v *verifier) checkLink(path string, p *parsedLine, bad badRecord) error {
	res := v.res
	if res.Records == 0 {
		switch {
		case p.seq == 1 && p.prevHash != GenesisHash:
			return bad(p.seq, "first record (seq 1) has prevHash %s, want 64 zeros", short(p.prevHash))
		case p.seq > 1 && p.prevHash == GenesisHash:
			return bad(p.seq, "record seq %d has the genesis prevHash (64 zeros)", p.seq)
		case p.seq > 1 && !isRotatedName(path):
			return bad(p.seq, "the chain starts at seq %d but %s is not a rotated file: "+
				"records 1..%d are missing", p.seq, filepath.Base(path), p.seq-1)
		}
		res.FirstSeq = p.seq
		res.Continuation = p.seq > 1
	} else {
		want := res.LastSeq + 1
		switch {
		case p.seq != want && p.seq > want:
			return bad(p.seq, "seq %d follows seq %d: %d record(s) missing", p.seq, res.LastSeq, p.seq-want)
		case p.seq != want:
			return bad(p.seq, "seq %d follows seq %d: records out of order or repeated", p.seq, res.LastSeq)
		case p.prevHash != v.prevHash:
			return bad(p.seq, "prevHash %s does not match the previous record's hash %s",
				short(p.prevHash), short(v.prevHash))
		}
	}
	return nil
}

// addRecord checks p's hash (and a checkpoint's signature, when a key is
// given), then counts it and makes it the record the next one follows.
func (v *verifier) addRecord(p *parsedLine, bad badRecord) error {
	res := v.res
	if p.computed != p.hash {
		return bad(p.seq, "hash mismatch: the record was altered (stored %s, computed %s)",
			short(p.hash), short(p.computed))
	}
	if p.event == EventCheckpoint {
		if v.key != nil && !v.key.check(p.alg, p.signed, p.signature) {
			return bad(p.seq, "REWRITTEN: the checkpoint's signature (%s) does not check with this key: the chain up to "+
				"here was rewritten, or signed with another key", p.alg)
		}
		res.Checkpoints++
		res.LastCheckpoint = p.seq
		v.lastEvery = p.every
	}
	if p.seq == v.headSeq {
		v.headHash = p.hash
	}
	res.Records++
	res.LastSeq = p.seq
	res.LastHash = p.hash
	v.prevHash = p.hash
	return nil
}

// isRotatedName reports whether path ends in ".N" (a rotated audit file),
// the only kind of file whose chain may start after seq 1.
func isRotatedName(path string) bool {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return false
	}
	n, err := strconv.Atoi(path[i+1:])
	return err == nil && n >= 1
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
