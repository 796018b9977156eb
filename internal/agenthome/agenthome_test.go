package agenthome

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestComponentInjectiveAndSafe(t *testing.T) {
	ids := []string{"", "%", "%25", ".", "..", ".a", "%2Ea", "a.", "a/b", "a%2Fb", "a\x00b", "/", "~", "%7E",
		"Alice", "alice", "claude-code", "my agent", "é", strings.Repeat("a", 128), strings.Repeat("a", 129),
		strings.Repeat("/", 100), strings.Repeat("a", 300), strings.Repeat("a", 299) + "b"}
	seen := map[string]string{}
	for _, id := range ids {
		c := Component(id)
		if c == "" || c == "." || c == ".." || strings.ContainsAny(c, "/\x00") || len(c) > 255 {
			t.Errorf("Component(%q) = %q: not a safe path component", id, c)
		}
		if filepath.Dir(Path("/r", id)) != "/r" {
			t.Errorf("Path(/r, %q) = %s: not directly beneath the root", id, Path("/r", id))
		}
		if other, dup := seen[c]; dup {
			t.Errorf("Component(%q) = Component(%q) = %q", id, other, c)
		}
		seen[c] = id
	}
	if got := Component("claude-code"); got != "claude-code" {
		t.Errorf("a plain id should stay readable: %q", got)
	}
}

func TestDefaultRoot(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		env  func(string) string
		root bool
		want string
	}{
		{env("XDG_STATE_HOME", "/x", "HOME", "/h"), false, "/x/mcp-process/homes"},
		{env("XDG_STATE_HOME", "/x", "HOME", "/h"), true, "/x/mcp-process/homes"},
		{env("HOME", "/h"), false, "/h/.local/state/mcp-process/homes"},
		{env("HOME", "/root"), true, SystemRoot},
		{env("XDG_STATE_HOME", "rel", "HOME", "/h"), false, "/h/.local/state/mcp-process/homes"},
		{env(), false, ""},
		{env(), true, SystemRoot},
	} {
		if got := DefaultRoot(c.env, c.root); got != c.want {
			t.Errorf("DefaultRoot(root=%v) = %q, want %q", c.root, got, c.want)
		}
	}
}

func mode(t *testing.T, p string) (os.FileMode, uint32, uint32) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fi.Mode(), st.Uid, st.Gid
}

// tempDir is a directory uid 65534 can traverse (t.TempDir's parent is 0700).
func tempDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestPrepareAndEnsure(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the homes are given to another uid")
	}
	nobody := Owner{Set: true, UID: 65534, GID: 65534}
	state := filepath.Join(tempDir(t), "state", "mcp-process")
	if err := os.MkdirAll(filepath.Dir(state), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(state, 0o700); err != nil { // as the audit log creates it
		t.Fatal(err)
	}
	root := filepath.Join(state, "homes")
	if err := Prepare(root, nobody); err != nil {
		t.Fatal(err)
	}
	if m, uid, _ := mode(t, root); m != os.ModeDir|0o711 || uid != 0 {
		t.Errorf("root: %v owned by %d, want drwx--x--x owned by the server", m, uid)
	}
	if m, _, _ := mode(t, state); m.Perm()&0o011 != 0o011 || m.Perm()&0o004 != 0 {
		t.Errorf("state directory: %v, want traversable, not listable", m)
	}
	home := Path(root, "agent/../x")
	if err := Ensure(home, nobody); err != nil {
		t.Fatal(err)
	}
	if m, uid, gid := mode(t, home); m != os.ModeDir|0o700 || uid != 65534 || gid != 65534 {
		t.Errorf("home: %v %d:%d, want drwx------ 65534:65534", m, uid, gid)
	}
	// A second launch keeps what the first left; a changed owner is given the home.
	if err := os.WriteFile(filepath.Join(home, "cache"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(home, Owner{Set: true, UID: 1234, GID: 1234}); err != nil {
		t.Fatal(err)
	}
	if _, uid, _ := mode(t, home); uid != 1234 {
		t.Errorf("home owner %d after the identity changed, want 1234", uid)
	}
	if _, err := os.Stat(filepath.Join(home, "cache")); err != nil {
		t.Errorf("the home's content was lost: %v", err)
	}

	// A home replaced by a symbolic link is refused, the target untouched.
	target := filepath.Join(tempDir(t), "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	evil := Path(root, "evil")
	if err := os.Symlink(target, evil); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(evil, nobody); err == nil {
		t.Error("Ensure followed a symbolic link")
	}
	if m, uid, _ := mode(t, target); m != os.ModeDir|0o755 || uid != 0 {
		t.Errorf("the link's target was changed: %v owned by %d", m, uid)
	}

	// A root others may write is refused.
	if err := os.Chmod(root, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := Ensure(Path(root, "b"), nobody); err == nil || !strings.Contains(err.Error(), "only the server may write") {
		t.Errorf("Ensure under a world-writable root: %v", err)
	}
}

func TestPrepareRefusesUnreachable(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the children are another uid")
	}
	private := filepath.Join(tempDir(t), "private")
	if err := os.Mkdir(private, 0o700); err != nil { // like /root
		t.Fatal(err)
	}
	root := filepath.Join(private, ".local", "state", "mcp-process", "homes")
	err := Prepare(root, Owner{Set: true, UID: 65534, GID: 65534})
	if err == nil || !strings.Contains(err.Error(), private+" is mode 0700") || !strings.Contains(err.Error(), "XDG_STATE_HOME") {
		t.Errorf("want a refusal naming %s and the fix, got %v", private, err)
	}
	// The server's own children (a non-root server) need no traversal check.
	if err := Prepare(root, Owner{}); err != nil {
		t.Errorf("own uid: %v", err)
	}

	// A root owned by another user is refused.
	other := filepath.Join(tempDir(t), "other")
	if err := os.Mkdir(other, 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(other, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := Prepare(other, Owner{}); err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Errorf("a root owned by another uid: %v", err)
	}
}
