package stage

import (
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
