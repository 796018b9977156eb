package agenthome

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
)

// componentByLoop is Component as it was, byte by byte for every id.
func componentByLoop(agent string) string {
	if agent == "" {
		return "%"
	}
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(agent); i++ {
		c := agent[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.' && i > 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
		}
	}
	s := b.String()
	if len(s) > maxComponent {
		sum := sha256.Sum256([]byte(agent))
		s = s[:100] + "~" + hex.EncodeToString(sum[:16])
	}
	return s
}

// Component returns a plain id as is and Path joins without cleaning
// again: the same names as before, and as filepath.Join.
func TestComponentAndPathFastWays(t *testing.T) {
	ids := []string{"", "a", "bench", "claude-code", "a.b", ".a", "a.", "..", ".", "A_9-x", "a b", "a/b", "é", "%",
		strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129), strings.Repeat(".", 3),
		strings.Repeat("a", 100) + "~"}
	for c := 0; c < 256; c++ {
		ids = append(ids, string(rune(c)), "x"+string([]byte{byte(c)}))
	}
	for _, id := range ids {
		if got, want := Component(id), componentByLoop(id); got != want {
			t.Errorf("Component(%q) = %q, want %q", id, got, want)
		}
		for _, root := range []string{"/var/lib/homes", "/", "", "rel", "/a/", "/a//b", "/a/../b", "/a/.", "//a"} {
			if got, want := Path(root, id), filepath.Join(root, componentByLoop(id)); got != want {
				t.Errorf("Path(%q, %q) = %q, want %q", root, id, got, want)
			}
		}
	}
}
