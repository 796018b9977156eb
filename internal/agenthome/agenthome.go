// Package agenthome gives each agent a HOME of its own (SPEC 7.1a): a
// directory the server keeps under its state directory, one per agent,
// persistent across that agent's launches (so tool caches work), and never
// the server user's home.
//
// Guarantees: an agent id, whatever it holds ("/", "..", NUL, any length),
// maps to exactly one path component of its own (Component is injective
// and never ".", ".." or empty), so no agent's home is another's or lies
// outside the homes root. Ensure creates a home mode 0700 owned by the
// uid and gid the children run as, through a descriptor opened with
// O_NOFOLLOW beneath a root that only the server can write; it never
// follows a symbolic link to chown or chmod another file. Prepare creates
// the root (mode 0711: the children may traverse it, not list it) and
// refuses a root that the children could not reach or that another user
// could write, naming the directory at fault.
//
// Not guaranteed here: the mode 0700 separates agents only when their
// children run as different uids. On a root server every agent's children
// run as the same uid (65534 by default), so one agent's children can read
// and write another agent's home by path; write confinement (Landlock) is
// what keeps them to their own.
package agenthome

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
)

// SystemRoot is the homes root of a root server whose environment sets no
// XDG_STATE_HOME: root's own home (/root, mode 0700) cannot be traversed
// by the children's unprivileged uid.
const SystemRoot = "/var/lib/mcp-process/homes"

// DefaultRoot is where the homes live: <state>/homes, the state directory
// being $XDG_STATE_HOME/mcp-process (the audit log's default directory).
// Without XDG_STATE_HOME, a server whose children run as its own uid uses
// $HOME/.local/state/mcp-process/homes, and a root server (children of
// another uid) SystemRoot. "" when neither variable gives an absolute
// directory for a non-root server.
func DefaultRoot(getenv func(string) string, serverIsRoot bool) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "mcp-process", "homes")
	}
	if serverIsRoot {
		return SystemRoot
	}
	if h := getenv("HOME"); filepath.IsAbs(h) {
		return filepath.Join(h, ".local", "state", "mcp-process", "homes")
	}
	return ""
}

// maxComponent bounds a home's name (NAME_MAX is 255).
const maxComponent = 128

// Component encodes agent as one path component: letters, digits, "-",
// "_" and "." (not first) stay; every other byte is %XX; the empty id is
// "%". A name longer than 128 bytes becomes its first 100 bytes, "~" and
// the first 32 hex digits of the id's SHA-256 ("~" never appears
// otherwise). Different ids always give different names.
func Component(agent string) string {
	if agent == "" {
		return "%"
	}
	if len(agent) <= maxComponent && plainComponent(agent) {
		return agent // what the loop below would build, byte for byte
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

// plainComponent reports whether Component keeps every byte of agent as
// is: letters, digits, "-", "_", and "." but first.
func plainComponent(agent string) bool {
	for i := 0; i < len(agent); i++ {
		c := agent[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Path is agent's home beneath root.
func Path(root, agent string) string {
	c := Component(agent) // one component, never "", "." or ".."
	if root != "" && root != "/" && root[0] == '/' && filepath.Clean(root) == root {
		return root + "/" + c // what filepath.Join gives, without cleaning it again
	}
	return filepath.Join(root, c)
}

// Owner is who a home belongs to: the host uid and gid of the children.
// Set false: the server's own ids (a non-root server's children run as
// the server), nothing is chowned.
type Owner struct {
	Set      bool
	UID, GID uint32
}
