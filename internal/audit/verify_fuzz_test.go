package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzVerify feeds arbitrary log and head files to the verifier and to the
// start-up reader of a log's last record: neither may panic; a refusal is a
// *VerifyError (the CLI's exit 1) or an I/O error; what verifies is a
// consistent chain (as many records as seqs, head not ahead of the log, a
// partial last line only after the head's record).
func FuzzVerify(f *testing.F) {
	dir := f.TempDir()
	key := bytes.Repeat([]byte("fuzz-key"), 4)
	k, err := parseKey(key)
	if err != nil {
		f.Fatal(err)
	}
	path := filepath.Join(dir, "audit.log")
	l, err := Open(Options{Path: path, SigningKey: k, CheckpointEvery: 3, Now: fixedClock()})
	if err != nil {
		f.Fatal(err)
	}
	for i := 0; i < 7; i++ {
		l.Record(launchRecord(i))
	}
	l.Close()
	log, _ := os.ReadFile(path)
	head, _ := os.ReadFile(HeadPath(path))
	f.Add(log, head, false)
	f.Add(log, head, true)
	f.Add(log[:len(log)-10], head, false)
	f.Add(append(bytes.Clone(log), `{"seq":`...), head, false)
	f.Add(log, []byte(`{"seq":1,"hash":"`+GenesisHash+`","time":"x"}`), false)
	f.Add([]byte("{}\n"), []byte("{}"), false)
	f.Add([]byte(""), []byte(""), false)
	// One directory per fuzzing process, its files overwritten by each
	// input: a fresh t.TempDir per input made inputs so slow (ms) that
	// minimising one took minutes.
	path = filepath.Join(f.TempDir(), "fuzz", "audit.log")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, log, head []byte, withKey bool) {
		if err := os.WriteFile(path, log, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(HeadPath(path), head, 0o600); err != nil {
			t.Fatal(err)
		}
		opts := VerifyOptions{}
		if withKey {
			opts.Key = k
		}
		res, err := VerifyLog(path, opts)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("VerifyLog error %T %v: want a *VerifyError", err, err)
			}
		} else {
			if res.Records < 1 || res.LastSeq-res.FirstSeq+1 != uint64(res.Records) {
				t.Fatalf("verified %d records for seq %d..%d", res.Records, res.FirstSeq, res.LastSeq)
			}
			if res.Head == nil || res.Head.Seq > res.LastSeq {
				t.Fatalf("verified with head %+v ahead of seq %d", res.Head, res.LastSeq)
			}
			if res.TornBytes > 0 && log[len(log)-1] == '\n' {
				t.Fatalf("a torn tail reported for a log ending in a newline")
			}
			if withKey && res.Checkpoints == 0 {
				t.Fatal("verified with the key but without a checkpoint")
			}
		}
		if _, err := VerifyLog(path, VerifyOptions{NoHead: true}); err == nil && len(log) > 0 && log[len(log)-1] != '\n' {
			t.Fatal("a log without its final newline verified without a head")
		}
		_, _, _ = lastRecord(path)
		_, _ = ReadHead(path)
	})
}
