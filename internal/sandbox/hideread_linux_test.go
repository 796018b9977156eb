package sandbox

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"golang.org/x/sys/unix"
)

// A hidden file that the host replaces by a rename while a child runs (as
// git's credential store rewrites ~/.git-credentials) stays unreadable for
// that child: the kernel detaches the mask's mount with the old directory
// entry, and the read layer (FlagHideReads) grants reads only through the
// entries the directory had at the launch, never through a hidden name.
// The sibling that existed and a file in a subdirectory stay readable; a
// file created in the split directory after the launch is not. Through a
// Go stage and two zygote launches (the second from the zygote's listing),
// then a launch after the host added a file (listed again: readable).
// Baseline: without the layer, the child reads the new secret.
func TestHiddenFileReplacedOnHostStaysHidden(t *testing.T) {
	needRoot(t)
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skip("no Landlock on this host: ", err)
	}
	dir := hostDir(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	write := func(n, s string) {
		t.Helper()
		if err := os.WriteFile(p(n), []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(p("sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(p("work"), 0o777); err != nil {
		t.Fatal(err)
	}
	write("sub/inner", "inner")
	write("sibling", "sibling")
	secret := p("secret")
	hidden := Isolation{Private: []string{"/tmp"}, Masked: []string{secret}, HideRead: []string{secret}}
	// The child says it runs (ready), waits until the host replaced the
	// secret (go), then reads.
	script := "touch " + p("work/ready") + "; while [ ! -e " + p("work/go") + " ]; do sleep 0.01; done; " +
		"for f in " + secret + " " + p("sibling") + " " + p("sub/inner") + " " + p("later") + `; do if v=$(cat "$f" 2>&1); then echo "$v"; else echo "denied $f"; fi; done`
	run := func(kind StageKind, iso Isolation) string {
		t.Helper()
		for _, n := range []string{"secret", "later", "work/ready", "work/go"} {
			os.Remove(p(n))
		}
		write("secret", "old secret")
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; i < 1000; i++ {
				if _, err := os.Stat(p("work/ready")); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			// What git's credential store does: a new file, renamed over.
			write("secret.lock", "NEW SECRET")
			if err := os.Rename(p("secret.lock"), secret); err != nil {
				t.Error(err)
			}
			write("later", "later")
			write("work/go", "")
		}()
		l := NewLauncher(LauncherOptions{Stage: kind, Isolation: iso})
		defer l.Close()
		spec := specFor(t, "sh", "-c", script)
		spec.Dir = p("work")
		out, st := runAll(t, l, spec)
		<-done
		exitOK(t, out, st)
		return strings.TrimSpace(out)
	}
	want := "denied " + secret + "\nsibling\ninner\ndenied " + p("later")
	for _, kind := range []StageKind{StageGo, StageZygote, StageZygote} {
		if got := run(kind, hidden); got != want {
			t.Errorf("stage %v:\n%s\nwant\n%s", kind, got, want)
		}
	}
	// A file the host added since the last launch is listed again.
	write("added", "added")
	if got := shellIn(t, StageZygote, hidden, "cat "+p("added")); got != "added" {
		t.Errorf("a file added on the host before the launch: %q", got)
	}
	// Baseline: the mask alone, the host's rename unhides the new file.
	if got := run(StageZygote, Isolation{Private: []string{"/tmp"}, Masked: []string{secret}}); !strings.HasPrefix(got, "NEW SECRET\n") {
		t.Errorf("baseline without the read layer: the replaced secret should be read:\n%s", got)
	}
}

// The zygote makes the next launch's read rules while it idles, from its
// listings of the split directories: a launch uses them only when nothing
// they rest on changed. One zygote, a directory left alone for two seconds
// (a listing of a directory changed within the second before it is made
// again at the next launch): the rules made ahead grant what they should
// (a sibling, a subdirectory's file) and not the hidden file; a file the
// host adds is readable by the next launch (its directory's times
// changed), as is a file in a filesystem the host mounts on an entry (the
// mount table changed: the rule must name the new root).
func TestZygoteHiddenRulesMadeAheadFollowTheHost(t *testing.T) {
	needZygote(t)
	needRoot(t)
	if _, err := hostfeat.LandlockABI(); err != nil {
		t.Skip("no Landlock on this host: ", err)
	}
	// Not in /var/tmp, which other tests change all the time.
	dir, err := os.MkdirTemp("/var/lib", "mcp-process-hideread-")
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, d := range []string{"sub", "mnt", "work"} {
		if err := os.Mkdir(p(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for n, s := range map[string]string{"sibling": "sibling", "sub/inner": "inner", "secret": "secret"} {
		if err := os.WriteFile(p(n), []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	secret := p("secret")
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: Isolation{Private: []string{"/tmp"}, Masked: []string{secret}, HideRead: []string{secret}}})
	defer l.Close()
	read := func(files ...string) string {
		t.Helper()
		script := ""
		for _, f := range files {
			script += "cat " + p(f) + " 2>/dev/null || echo denied " + f + "; "
		}
		spec := specFor(t, "sh", "-c", script)
		spec.Dir = p("work")
		out, st := runAll(t, l, spec)
		exitOK(t, out, st)
		return strings.ReplaceAll(strings.TrimSpace(out), "\n", " ")
	}
	quiet := func() { time.Sleep(2100 * time.Millisecond) }
	quiet()
	if got := read("sibling"); got != "sibling" { // listed, and the next rules made ahead
		t.Fatalf("first launch: %q", got)
	}
	if got := read("sibling", "sub/inner", "secret"); got != "sibling inner denied secret" { // the rules made ahead
		t.Errorf("launch with the rules made ahead: %q", got)
	}
	if err := os.WriteFile(p("added"), []byte("added\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read("added", "secret"); got != "added denied secret" {
		t.Errorf("a file added on the host since the rules were made: %q", got)
	}
	// The zygote keeps what it listed, not more at each launch.
	zygoteFDs := func() int {
		waitZygoteAwaitsLaunch(t, l.zygotePid()) // its idle preparation done
		ents, err := os.ReadDir("/proc/" + strconv.Itoa(l.zygotePid()) + "/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	quiet()
	read("sibling") // a listing of the quiet directory, and rules made ahead from it
	before := zygoteFDs()
	for i := 0; i < 10; i++ {
		read("sibling")
	}
	if after := zygoteFDs(); after > before {
		t.Errorf("the zygote held %d descriptors, %d after ten more launches", before, after)
	}
	if err := unix.Mount("tmpfs", p("mnt"), "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(p("mnt"), unix.MNT_DETACH)
	if err := os.WriteFile(p("mnt/x"), []byte("mounted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := read("mnt/x", "secret"); got != "mounted denied secret" {
		t.Errorf("a file in a filesystem mounted on the host since the rules were made: %q", got)
	}
}
