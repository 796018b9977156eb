package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Tamper evidence beyond the chain (SPEC 7.2). The chain alone proves the
// order and integrity of what is there, not that nothing was cut from the
// end or that the whole chain was not recomputed. So:
//
//   - Beside each log, FILE.head holds the seq and hash of the last record
//     known to be on disk. It is rewritten (temporary file, fsync, rename)
//     every HeadInterval while records are written (never more often), at open and
//     at close: one fsync per interval, not one per record. A log that ends
//     before its head's seq lost records from its end; a log whose record at
//     the head's seq has another hash was rewritten. Records written since
//     the last head write (at most HeadInterval's worth) are not covered.
//   - With a signing key (auditSigningKeyFile), a "checkpoint" record is
//     appended after the first record of each run, after every
//     CheckpointEvery records, and at close. It signs itself (seq, prevHash,
//     time, every: see checkpointMessage), and through prevHash the whole
//     chain before it; the head is signed too. Without the key nobody can
//     produce a valid checkpoint, so a chain rewritten from scratch fails
//     `audit verify --key`.

// HeadInterval is how often at most the head file is rewritten while
// records are being written.
var HeadInterval = time.Second

// DefaultCheckpointEvery is how many records separate two checkpoints.
const DefaultCheckpointEvery = 100

// EventCheckpoint is a signed checkpoint record.
const EventCheckpoint = "checkpoint"

// Head is the content of FILE.head.
type Head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
	Time string `json:"time"`
	// Alg and Signature: with a signing key, its signature of headMessage.
	Alg       string `json:"signatureAlg,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// HeadPath is the head file of the log at path.
func HeadPath(path string) string { return path + ".head" }

func headMessage(h *Head) []byte {
	return fmt.Appendf(nil, "mcp-process audit head v1\nseq=%d\nhash=%s\ntime=%s\n", h.Seq, h.Hash, h.Time)
}

// ReadHead reads path's head file. It returns nil, nil when there is none.
func ReadHead(path string) (*Head, error) {
	data, err := os.ReadFile(HeadPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseHead(data)
}

func parseHead(data []byte) (*Head, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var h Head
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("head file: not a head record: %v", err)
	}
	if dec.More() {
		return nil, errors.New("head file: trailing data after the head record")
	}
	// seq 0 is the head of a log with no record yet (written when the log
	// is created, so that a crash between its first fsync and its first
	// head leaves a head behind, not none).
	if !isHexHash(h.Hash) || h.Seq == 0 && h.Hash != GenesisHash {
		return nil, errors.New("head file: missing or malformed seq or hash")
	}
	return &h, nil
}

// writeHead replaces path's head file with h (signed with key when not
// nil): a temporary file is written and synced, then renamed over the head.
// The temporary file is created with O_EXCL under a random name in the
// log's directory (os.CreateTemp), so a symbolic link or hard link planted
// at a predictable name is never followed or written through; it is
// removed when anything fails. rename(2) replaces a link at the head's own
// name rather than following it.
func writeHead(path string, h Head, key *Key) error {
	if key != nil {
		h.Alg = key.alg
		h.Signature = key.sign(headMessage(&h))
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	head := HeadPath(path)
	f, err := os.CreateTemp(filepath.Dir(head), "."+filepath.Base(head)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, head); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// checkpointMessage is what a checkpoint's signature covers: a domain
// string and the RFC 8785 form of the record without "hash" and
// "signature" (so its seq, prevHash, time, every and signatureAlg).
func checkpointMessage(obj map[string]any) ([]byte, error) {
	c := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "hash" && k != "signature" {
			c[k] = v
		}
	}
	var b bytes.Buffer
	b.WriteString("mcp-process audit checkpoint v1\n")
	if err := writeCanonical(&b, c); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// signCheckpoint sets r.Signature (r.Seq, r.PrevHash, r.Time set).
func signCheckpoint(r *Record, key *Key) error {
	r.SignatureAlg = key.alg
	r.Signature, r.Hash = "", ""
	obj, err := recordObject(r)
	if err != nil {
		return err
	}
	msg, err := checkpointMessage(obj)
	if err != nil {
		return err
	}
	r.Signature = key.sign(msg)
	return nil
}

func headTime(h *Head) string {
	if h == nil || strings.TrimSpace(h.Time) == "" {
		return "an unknown time"
	}
	return h.Time
}
