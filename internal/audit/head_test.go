package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hmacKeyFile(t *testing.T) (string, *Key) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.key")
	if err := os.WriteFile(path, bytes.Repeat([]byte("k3y!"), 8), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadSigningKey(path)
	if err != nil {
		t.Fatalf("LoadSigningKey: %v", err)
	}
	return path, k
}

// ed25519Keys writes a PKCS #8 private key (0600) and its public key.
func ed25519Keys(t *testing.T) (privPath, pubPath string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p8, _ := x509.MarshalPKCS8PrivateKey(priv)
	px, _ := x509.MarshalPKIXPublicKey(pub)
	privPath, pubPath = filepath.Join(dir, "audit.pem"), filepath.Join(dir, "audit.pub")
	os.WriteFile(privPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600)
	os.WriteFile(pubPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: px}), 0o644)
	return privPath, pubPath
}

// rechain recomputes every line's prevHash and hash from the first one on,
// as someone who can write the file but has no key would.
func rechain(t *testing.T, lines [][]byte) [][]byte {
	t.Helper()
	prev := GenesisHash
	out := make([][]byte, 0, len(lines))
	for i, l := range lines {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		r.Seq = uint64(i + 1)
		r.PrevHash = prev
		if err := sealRecord(&r); err != nil {
			t.Fatal(err)
		}
		b, _ := marshalRecord(&r)
		out = append(out, append(b, '\n'))
		prev = r.Hash
	}
	return out
}

func wantVerifyError(t *testing.T, path string, opts VerifyOptions, want ...string) {
	t.Helper()
	res, err := VerifyLog(path, opts)
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("VerifyLog = %+v, %v: want a VerifyError", res, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("VerifyLog error %q: want %q in it", err, w)
		}
	}
}

func TestHeadDetectsCutTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 10)
	l.Close()
	if res, err := VerifyLog(path, VerifyOptions{}); err != nil || res.Head == nil || res.Head.Seq != 10 {
		t.Fatalf("intact log: VerifyLog = %+v, %v", res, err)
	}
	lines := readLines(t, path)
	writeLines(t, path, lines[:7]) // cut at a line boundary: the chain alone is still valid
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("the chain alone cannot see the cut (%v): the test would prove nothing", err)
	}
	wantVerifyError(t, path, VerifyOptions{}, "TRUNCATED", "end at seq 7", "records seq 10", "3 acknowledged record(s)")
	if _, err := Open(Options{Path: path}); err == nil || !strings.Contains(err.Error(), "3 acknowledged record(s) were cut") {
		t.Fatalf("Open of a cut log = %v, want a refusal naming the cut", err)
	}
	// Cut in the middle of a line: still a truncation, not a crash.
	writeLines(t, path, append(lines[:7:7], lines[7][:30]))
	wantVerifyError(t, path, VerifyOptions{}, "TRUNCATED", "cut short", "3 acknowledged record(s)")
}

func TestHeadMissingOrBad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 3)
	l.Close()
	os.Rename(HeadPath(path), HeadPath(path)+".away")
	wantVerifyError(t, path, VerifyOptions{}, "audit.log.head", "missing")
	if _, err := VerifyLog(path, VerifyOptions{NoHead: true}); err != nil {
		t.Fatalf("--no-head: %v", err)
	}
	os.WriteFile(HeadPath(path), []byte("{\"seq\":3}\n"), 0o600)
	wantVerifyError(t, path, VerifyOptions{}, "malformed")
	// The server starts on a log without a head, and says so in the log.
	os.Remove(HeadPath(path))
	l2 := openLog(t, Options{Path: path})
	l2.Close()
	if !bytes.Contains(bytes.Join(readLines(t, path), nil), []byte("head file "+HeadPath(path)+" was missing")) {
		t.Fatal("no record says the head was missing")
	}
	if _, err := VerifyLog(path, VerifyOptions{}); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
}

func TestHeadDetectsRewrittenChain(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 10)
	l.Close()
	// The whole chain rewritten from scratch (record 4 dropped, hashes
	// recomputed), the head left alone.
	lines := readLines(t, path)
	forged := rechain(t, append(append([][]byte{}, lines[:3]...), lines[4:]...))
	forged = append(forged, rechain(t, lines)[9:]...) // pad back to 10 records
	forged = rechain(t, forged)
	writeLines(t, path, forged)
	if _, err := VerifyFile(path); err != nil {
		t.Fatalf("the forged chain does not verify on its own (%v): the test would prove nothing", err)
	}
	wantVerifyError(t, path, VerifyOptions{}, "REWRITTEN", "seq 10")
	if _, err := Open(Options{Path: path}); err == nil || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("Open of a rewritten log = %v, want a refusal", err)
	}
}

func TestTornLastLineAfterCrash(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	writeN(t, l, 5)
	l.Close()
	// A crash cut a write after the head's record: a partial line.
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"time":"2025-03-01T12:00:00Z","seq":6,"lev`)
	f.Close()
	res, err := VerifyLog(path, VerifyOptions{})
	if err != nil || res.TornBytes == 0 || res.LastSeq != 5 {
		t.Fatalf("VerifyLog = %+v, %v: want valid with a torn tail", res, err)
	}
	if _, err := VerifyLog(path, VerifyOptions{NoHead: true}); err == nil {
		t.Fatal("without the head a partial line must not pass")
	}
	// The next start removes it and records that it did.
	l2 := openLog(t, Options{Path: path})
	if err := l2.Record(launchRecord(6)); err != nil {
		t.Fatal(err)
	}
	l2.Close()
	res, err = VerifyLog(path, VerifyOptions{})
	if err != nil || res.TornBytes != 0 || res.LastSeq != 7 {
		t.Fatalf("after restart: VerifyLog = %+v, %v", res, err)
	}
	if !bytes.Contains(readLines(t, path)[5], []byte("removed a partial last line")) {
		t.Fatalf("record 6 = %s: want the removal recorded", readLines(t, path)[5])
	}
}

func TestCheckpointsDetectRewrite(t *testing.T) {
	for _, alg := range []string{AlgHMAC, AlgEd25519} {
		t.Run(alg, func(t *testing.T) {
			var keyPath, verifyPath string
			if alg == AlgHMAC {
				keyPath, _ = hmacKeyFile(t)
				verifyPath = keyPath
			} else {
				keyPath, verifyPath = ed25519Keys(t)
			}
			key, err := LoadSigningKey(keyPath)
			if err != nil {
				t.Fatal(err)
			}
			vkey, err := LoadVerifyKey(verifyPath)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "audit.log")
			l := openLog(t, Options{Path: path, SigningKey: key, CheckpointEvery: 5})
			writeN(t, l, 12)
			l.Close()
			res, err := VerifyLog(path, VerifyOptions{Key: vkey})
			// Checkpoints: after record 1, after 6 (5 more), after 11, at close.
			if err != nil || res.Checkpoints != 4 || res.LastCheckpoint != res.LastSeq {
				t.Fatalf("VerifyLog = %+v, %v", res, err)
			}
			good := readLines(t, path)
			goodHead, _ := os.ReadFile(HeadPath(path))

			// Rewritten from scratch by someone without the key: the chain
			// and even an unsigned head are consistent, the checkpoints not.
			forged := rechain(t, append(append([][]byte{}, good[:3]...), bytes.Replace(good[3], []byte("n=2"), []byte("n=9"), 1)))
			forged = rechain(t, append(forged, good[4:]...))
			writeLines(t, path, forged)
			var last Record
			json.Unmarshal(forged[len(forged)-1], &last)
			writeHead(path, Head{Seq: last.Seq, Hash: last.Hash, Time: "2025-03-01T12:00:00Z"}, nil)
			if _, err := VerifyLog(path, VerifyOptions{}); err != nil {
				t.Fatalf("without the key the forgery passes (%v): the key is what detects it", err)
			}
			wantVerifyError(t, path, VerifyOptions{Key: vkey}, "head is not signed")
			os.WriteFile(HeadPath(path), goodHead, 0o600)
			wantVerifyError(t, path, VerifyOptions{Key: vkey}, "REWRITTEN", "audit.log:8", "signature")

			// Checkpoints removed: no checkpoint at all.
			var plain [][]byte
			for _, ln := range good {
				if !bytes.Contains(ln, []byte(`"event":"checkpoint"`)) {
					plain = append(plain, ln)
				}
			}
			plain = rechain(t, plain)
			writeLines(t, path, plain)
			json.Unmarshal(plain[len(plain)-1], &last)
			writeHead(path, Head{Seq: last.Seq, Hash: last.Hash, Time: "2025-03-01T12:00:00Z"}, key) // even a validly signed head
			wantVerifyError(t, path, VerifyOptions{Key: vkey}, "REWRITTEN", "no signed checkpoint")

			// Records appended after the last checkpoint, more than its interval.
			writeLines(t, path, good)
			l = openLog(t, Options{Path: path}) // the key "lost": no checkpoints
			writeN(t, l, 6)
			l.Close()
			wantVerifyError(t, path, VerifyOptions{Key: vkey}, "head is not signed")
			h, _ := ReadHead(path)
			writeHead(path, *h, key) // isolate the interval check
			wantVerifyError(t, path, VerifyOptions{Key: vkey}, "6 records follow the last signed checkpoint", "at most 5")
		})
	}
}

func TestSigningKeyFileChecked(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	os.WriteFile(open, bytes.Repeat([]byte("x"), 32), 0o644)
	if _, err := LoadSigningKey(open); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a world-readable key = %v, want a refusal naming the fix", err)
	}
	short := filepath.Join(dir, "short.key")
	os.WriteFile(short, []byte("secret"), 0o600)
	if _, err := LoadSigningKey(short); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Fatalf("a short key = %v", err)
	}
	_, pub := ed25519Keys(t)
	os.Chmod(pub, 0o600)
	if _, err := LoadSigningKey(pub); err == nil || !strings.Contains(err.Error(), "public key") {
		t.Fatalf("a public key as the signing key = %v", err)
	}
}

// A new log has a head (seq 0) before its first record, so that a crash
// after the first records' fsync and before their head is written leaves a
// head that is behind, which verify and the next start accept, and never
// a log without one, which they cannot tell from a deleted head.
func TestHeadBeforeFirstRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	l := openLog(t, Options{Path: path})
	h, err := ReadHead(path)
	if err != nil || h == nil || h.Seq != 0 || h.Hash != GenesisHash {
		t.Fatalf("head of a new log = %+v, %v: want seq 0", h, err)
	}
	genesis, _ := os.ReadFile(HeadPath(path))
	// Opened again while still empty (a violation log without violations).
	l.Close()
	l = openLog(t, Options{Path: path})
	writeN(t, l, 3)
	l.Close()
	// The crash: the records were synced, their head not yet written.
	os.WriteFile(HeadPath(path), genesis, 0o600)
	if res, err := VerifyLog(path, VerifyOptions{}); err != nil || res.Records == 0 {
		t.Fatalf("records after a seq-0 head: VerifyLog = %+v, %v", res, err)
	}
	l2 := openLog(t, Options{Path: path})
	l2.Close()
	if h, _ := ReadHead(path); h == nil || h.Seq < 3 {
		t.Fatalf("after the restart the head is %+v, want it at the last record", h)
	}
	// A seq-0 head with another hash is no head.
	os.WriteFile(HeadPath(path), bytes.Replace(genesis, []byte(GenesisHash), []byte(strings.Repeat("1", 64)), 1), 0o600)
	wantVerifyError(t, path, VerifyOptions{}, "malformed")
}
