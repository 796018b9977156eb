package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSourceWatch(t *testing.T) {
	state, cwd := t.TempDir(), t.TempDir()
	getenv := func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state
		}
		return ""
	}
	w := WatchFor(getenv)
	if w.Path != filepath.Join(state, "mcp-process", SourceWatchFile) {
		t.Fatalf("record at %q", w.Path)
	}
	local := LocalSources(cwd)
	if err := os.WriteFile(local[1][:len(local[1])-len("/mcp-process.json")], nil, 0o644); err != nil { // ./config is a file: the source cannot appear
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	added, err := w.Watch(local, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 1 || added[0] != local[0] {
		t.Fatalf("recorded %v, want only %s (the other cannot be created)", added, local[0])
	}
	// Watching again keeps the first time and adds nothing.
	if added, err := w.Watch(local, now.Add(time.Hour)); err != nil || len(added) != 0 {
		t.Fatalf("second Watch: %v, %v", added, err)
	}
	if since, ok, err := w.Since(local[0]); err != nil || !ok || !since.Equal(now) {
		t.Fatalf("Since = %v, %v, %v", since, ok, err)
	}
	if fi, err := os.Stat(w.Path); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("record %v, %v: want a file only its owner can read", fi, err)
	}

	// A file that appears there is refused as the local source, by name.
	if err := os.WriteFile(local[0], []byte(`{"allowedExecutables": ["/bin/true"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(LoadOptions{Cwd: cwd, Getenv: getenv})
	if err == nil || !strings.Contains(err.Error(), local[0]) || !strings.Contains(err.Error(), "a child may have written it") || !strings.Contains(err.Error(), "--config "+local[0]) {
		t.Fatalf("Load of a watched local source: %v", err)
	}
	// Given explicitly, it loads (the command then clears the record).
	l, err := Load(LoadOptions{Cwd: cwd, Getenv: getenv, ConfigPath: local[0]})
	if err != nil || l.Local {
		t.Fatalf("explicit Load: %v (local %v)", err, l != nil && l.Local)
	}
	if err := w.Clear(local[0]); err != nil {
		t.Fatal(err)
	}
	l, err = Load(LoadOptions{Cwd: cwd, Getenv: getenv})
	if err != nil || !l.Local || l.Path != local[0] {
		t.Fatalf("Load after Clear: %v, %+v", err, l)
	}
	// An existing file is never recorded (it is sealed instead).
	if added, err := w.Watch(local, now); err != nil || len(added) != 0 {
		t.Fatalf("Watch of an existing file: %v, %v", added, err)
	}

	// A record that cannot be read stops the start, naming it.
	os.Remove(local[0])
	w.Watch(local, now)
	os.WriteFile(local[0], []byte(`{}`), 0o600)
	os.WriteFile(w.Path, []byte("not json"), 0o600)
	if _, err := Load(LoadOptions{Cwd: cwd, Getenv: getenv}); err == nil || !strings.Contains(err.Error(), w.Path) {
		t.Fatalf("Load with a broken record: %v", err)
	}
}

func TestSourceWatchNoStateDir(t *testing.T) {
	w := WatchFor(func(string) string { return "" })
	if added, err := w.Watch([]string{"/nonexistent/x"}, time.Now()); err != nil || added != nil {
		t.Fatalf("Watch without a state directory: %v, %v", added, err)
	}
}

// A symbolic link planted at the record's name (by whoever could write the
// state directory) is replaced by the write, never written through; the
// temporary file is created O_EXCL under a random name.
func TestSourceWatchFollowsNoPlantedLink(t *testing.T) {
	state, cwd := t.TempDir(), t.TempDir()
	w := WatchFor(func(k string) string {
		if k == "XDG_STATE_HOME" {
			return state
		}
		return ""
	})
	victim := filepath.Join(t.TempDir(), "victim.json")
	const content = `{"watched": {}}` + "\n"
	if err := os.WriteFile(victim, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(w.Path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, w.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Watch(LocalSources(cwd), time.Now()); err != nil {
		t.Fatalf("Watch with a link at the record: %v", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != content {
		t.Fatalf("the victim was written through the planted link: %q", b)
	}
	if st, err := os.Lstat(w.Path); err != nil || !st.Mode().IsRegular() {
		t.Fatalf("the record is not a regular file after the write: %v %v", st, err)
	}
}
