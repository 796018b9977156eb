//go:build unix

package agenthome

import (
	"os"
	"path/filepath"
	"testing"
)

// A symbolic link planted where the server expects one of the homes'
// directories (the root, an agent's HOME) is refused, and the directory it
// points at keeps its mode: chmod and chown never follow it.
func TestPlantedLinksNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.Mkdir(victim, 0o750); err != nil {
		t.Fatal(err)
	}
	os.Chmod(victim, 0o750)
	unchanged := func(t *testing.T) {
		t.Helper()
		if st, err := os.Stat(victim); err != nil || st.Mode().Perm() != 0o750 {
			t.Fatalf("the victim's mode changed through a planted link: %v %v", st.Mode(), err)
		}
	}
	t.Run("chmodDir", func(t *testing.T) {
		link := filepath.Join(dir, "link")
		if err := os.Symlink(victim, link); err != nil {
			t.Fatal(err)
		}
		if err := chmodDir(link, 0o711); err == nil {
			t.Fatal("chmodDir followed a symbolic link")
		}
		unchanged(t)
		if err := chmodDir(victim, 0o750); err != nil {
			t.Fatalf("chmodDir of a directory: %v", err)
		}
	})
	t.Run("root", func(t *testing.T) {
		root := filepath.Join(dir, "homes")
		if err := os.Symlink(victim, root); err != nil {
			t.Fatal(err)
		}
		if err := Prepare(root, Owner{}); err == nil {
			t.Fatal("Prepare accepted a symbolic link as the homes' root")
		}
		unchanged(t)
	})
	t.Run("home", func(t *testing.T) {
		root := filepath.Join(dir, "homes2")
		if err := Prepare(root, Owner{}); err != nil {
			t.Fatal(err)
		}
		home := Path(root, "agent")
		if err := os.Symlink(victim, home); err != nil {
			t.Fatal(err)
		}
		if err := Ensure(home, Owner{}); err == nil {
			t.Fatal("Ensure accepted a symbolic link as the agent's HOME")
		}
		unchanged(t)
	})
}
