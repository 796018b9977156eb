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
}

// VerifyError names the first bad record.
type VerifyError struct {
	File   string
	Line   int    // 1-based
	Seq    uint64 // 0 when the line has no readable seq
	Reason string
}

func (e *VerifyError) Error() string {
	seq := "seq unknown"
	if e.Seq != 0 {
		seq = "seq " + strconv.FormatUint(e.Seq, 10)
	}
	return fmt.Sprintf("%s:%d (%s): %s", e.File, e.Line, seq, e.Reason)
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
	res := &VerifyResult{}
	if len(paths) == 0 {
		return res, errors.New("audit verify: no file")
	}
	var prevHash string
	for _, path := range paths {
		res.Files = append(res.Files, path)
		if err := verifyOne(path, res, &prevHash); err != nil {
			return res, err
		}
	}
	if res.Records == 0 {
		return res, &VerifyError{File: paths[len(paths)-1], Line: 0, Reason: "no records"}
	}
	return res, nil
}

func verifyOne(path string, res *VerifyResult, prevHash *string) error {
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
		bad := func(seq uint64, format string, a ...any) error {
			return &VerifyError{File: path, Line: lineNo, Seq: seq, Reason: fmt.Sprintf(format, a...)}
		}
		if line[len(line)-1] != '\n' {
			var seq uint64
			if p, perr := parseLine(line); perr == nil {
				seq = p.seq
			}
			return bad(seq, "truncated last line (no terminating newline)")
		}
		p, perr := parseLine(line[:len(line)-1])
		if perr != nil {
			var seq uint64
			if p != nil {
				seq = p.seq
			}
			return bad(seq, "%v", perr)
		}
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
			case p.prevHash != *prevHash:
				return bad(p.seq, "prevHash %s does not match the previous record's hash %s",
					short(p.prevHash), short(*prevHash))
			}
		}
		if p.computed != p.hash {
			return bad(p.seq, "hash mismatch: the record was altered (stored %s, computed %s)",
				short(p.hash), short(p.computed))
		}
		res.Records++
		res.LastSeq = p.seq
		res.LastHash = p.hash
		*prevHash = p.hash
	}
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
