package stage

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// hiddenSplit splits each directory above a hidden path, parents first,
// stopping at the directories a launch keeps whole.
func TestHiddenSplitStopsAtKeptDirectories(t *testing.T) {
	split, skip := hiddenSplit([]string{"/home/u/.netrc", "/home/u/.config/gh", "/home/u/proj/.env", "/tmp/x", "/etc/app/key"},
		[]string{"/tmp", "/home/u/proj"})
	if got, want := strings.Join(split, " "), "/ /etc /home /home/u /etc/app /home/u/.config"; got != want {
		t.Errorf("split = %q, want %q", got, want)
	}
	if got, want := strings.Join(skip, " "), "/home/u/.netrc /home/u/.config/gh /etc/app/key"; got != want {
		t.Errorf("skip = %q, want %q", got, want)
	}
}

// A hidden path that became a symbolic link since the server resolved it
// (a dangling one: where its target would be made), and one beneath a
// directory that became one, are followed to where a walk of them leads
// now; a path with no link stays as it is.
func TestExpandHiddenFollowsLinksMadeSince(t *testing.T) {
	home, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dotfiles/config/gh", "plain"} {
		if err := os.MkdirAll(filepath.Join(home, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("dotfiles/config", filepath.Join(home, ".config")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dotfiles/netrc", filepath.Join(home, ".netrc")); err != nil { // dangling
		t.Fatal(err)
	}
	hidden := []string{home + "/.config/gh", home + "/.netrc", home + "/plain/.secret"}
	got := expandHidden(hidden, nil, stageIsLink)
	want := append(hidden, home+"/dotfiles/netrc", home+"/dotfiles/config/gh")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("expandHidden = %q, want %q", got, want)
	}
}
