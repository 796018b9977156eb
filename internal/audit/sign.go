package audit

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// Signing algorithms of checkpoints and heads (auditSigningKeyFile).
const (
	AlgHMAC    = "hmac-sha256"
	AlgEd25519 = "ed25519"
)

// MinHMACKeyBytes is the shortest HMAC key accepted: 32 bytes, the size of
// the SHA-256 output.
const MinHMACKeyBytes = 32

// Key signs (a server's key) or only checks (a verifier holding an Ed25519
// public key) audit checkpoints and heads. An HMAC key both signs and
// checks; so does an Ed25519 private key.
type Key struct {
	alg  string
	mac  []byte
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// Alg is the key's algorithm: AlgHMAC or AlgEd25519.
func (k *Key) Alg() string { return k.alg }

// CanSign reports whether k holds a secret (an HMAC key or an Ed25519
// private key), not only a public key.
func (k *Key) CanSign() bool { return k.mac != nil || k.priv != nil }

// LoadSigningKey reads the server's auditSigningKeyFile: a regular file
// readable only by its owner (no group or other permission bits), holding
// either a PEM "PRIVATE KEY" (PKCS #8 Ed25519) or a raw HMAC-SHA256 key of
// at least MinHMACKeyBytes bytes (the file's bytes as they are).
func LoadSigningKey(path string) (*Key, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s has mode %04o: it must be readable by the server only (chmod 600 %s)", path, st.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if !k.CanSign() {
		return nil, fmt.Errorf("%s holds a public key: the server needs the private key (or an HMAC key) to sign", path)
	}
	return k, nil
}

// LoadVerifyKey reads a key for `audit verify --key`: the server's key
// file, or for Ed25519 its PEM "PUBLIC KEY" alone (so a verifier never
// needs the secret). Permissions are not checked.
func LoadVerifyKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func parseKey(data []byte) (*Key, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		blk, _ := pem.Decode(bytes.TrimSpace(data))
		if blk == nil {
			return nil, errors.New("malformed PEM block")
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PKCS #8 private key: %v", err)
			}
			priv, ok := k.(ed25519.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("the private key is a %T: only Ed25519 is supported (openssl genpkey -algorithm ed25519)", k)
			}
			return &Key{alg: AlgEd25519, priv: priv, pub: priv.Public().(ed25519.PublicKey)}, nil
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("public key: %v", err)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("the public key is a %T: only Ed25519 is supported", k)
			}
			return &Key{alg: AlgEd25519, pub: pub}, nil
		default:
			return nil, fmt.Errorf("PEM block %q: want PRIVATE KEY (Ed25519) or PUBLIC KEY", blk.Type)
		}
	}
	if len(data) < MinHMACKeyBytes {
		return nil, fmt.Errorf("an HMAC key must be at least %d bytes, this one is %d (head -c 32 /dev/urandom > FILE)", MinHMACKeyBytes, len(data))
	}
	return &Key{alg: AlgHMAC, mac: bytes.Clone(data)}, nil
}

// sign returns the hex signature of msg.
func (k *Key) sign(msg []byte) string {
	if k.mac != nil {
		m := hmac.New(sha256.New, k.mac)
		m.Write(msg)
		return hex.EncodeToString(m.Sum(nil))
	}
	return hex.EncodeToString(ed25519.Sign(k.priv, msg))
}

// check reports whether sig (hex) is alg's valid signature of msg by k.
func (k *Key) check(alg string, msg []byte, sig string) bool {
	if alg != k.alg {
		return false
	}
	raw, err := hex.DecodeString(sig)
	if err != nil {
		return false
	}
	if k.mac != nil {
		m := hmac.New(sha256.New, k.mac)
		m.Write(msg)
		return hmac.Equal(m.Sum(nil), raw)
	}
	return len(raw) == ed25519.SignatureSize && ed25519.Verify(k.pub, msg, raw)
}
