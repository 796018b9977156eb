//go:build linux

package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// The zygote makes the next child's private-view mount namespace while it
// idles (stage/zygote_mnt_linux.go): the next launch's child is in exactly
// that namespace, with the view a namespace of its own would give (private
// /tmp, its working directory beneath a private one bound back, a secret
// hidden). A namespace made before a change of the host's mounts, or
// before a private directory was replaced, is not used: the child then
// sees the new mount, and the new directory covered.
func TestZygoteEntersMountNSMadeAhead(t *testing.T) {
	needZygote(t)
	if os.Geteuid() != 0 {
		t.Skip("mounts on the host: needs root")
	}
	if !stage.VMForkSupported {
		t.Skip("the mount namespace is made ahead only where children share the zygote's memory (amd64)")
	}
	if b, err := os.ReadFile("/proc/sys/fs/suid_dumpable"); err == nil && strings.TrimSpace(string(b)) == "1" {
		t.Skip("fs.suid_dumpable is 1: the zygote forks, and makes nothing ahead")
	}
	dir := hostDir(t) // beneath /var/tmp: bound back over the private tmpfs
	xdg, err := os.MkdirTemp("/", "mcp-xdg-")
	if err != nil {
		t.Skip(err)
	}
	defer os.RemoveAll(xdg)
	t.Setenv("XDG_RUNTIME_DIR", xdg) // a private directory outside the others
	home := t.TempDir()
	t.Setenv("HOME", home)
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	iso, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	l := NewLauncher(LauncherOptions{Stage: StageZygote, Isolation: iso})
	defer l.Close()
	own, err := os.Readlink("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	start := func() *Process {
		t.Helper()
		p, err := l.Start(specFor(t, "/bin/sleep", "30"), Stdio{})
		if err != nil {
			t.Fatal(err)
		}
		if !p.forked {
			p.Abort()
			t.Fatal("not forked by the zygote")
		}
		if err := p.Release(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Abort)
		return p
	}
	ns := func(pid int) string {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/mnt", pid))
		if err != nil {
			t.Fatal(err)
		}
		return link
	}
	// held waits for the zygote to idle (blocked in ppoll or recvmsg,
	// waiting for the next launch) and returns the mount namespace it
	// holds.
	held := func() string {
		t.Helper()
		z := l.zygotePid()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if !zygoteAwaitsLaunch(z) {
				continue // not yet idle
			}
			ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", z))
			for _, e := range ents {
				link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", z, e.Name()))
				if strings.HasPrefix(link, "mnt:[") && link != own {
					// Held open until the test ends: its inode number
					// is not given to another namespace meanwhile.
					if f, err := os.Open(fmt.Sprintf("/proc/%d/fd/%s", z, e.Name())); err == nil {
						t.Cleanup(func() { f.Close() })
						if again, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", z, e.Name())); again == link {
							return link
						}
					}
				}
			}
			break
		}
		t.Fatal("the idle zygote holds no mount namespace made ahead")
		return ""
	}
	exists := func(p *Process, path string) bool {
		_, err := os.Lstat(fmt.Sprintf("/proc/%d/root%s", p.Pid, path))
		return err == nil
	}
	hostTmp := filepath.Join("/tmp", fmt.Sprintf("mcp-mnt-ahead-%d", os.Getpid()))
	if err := os.WriteFile(hostTmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(hostTmp)
	for _, f := range []string{filepath.Join(dir, "kept"), filepath.Join(xdg, "bus"), filepath.Join(home, ".ssh", "id_ed25519")} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	first := start()
	made := held()
	second := start()
	if got := ns(second.Pid); got != made {
		t.Fatalf("the second child is in %s, the zygote had made %s (the first child is in %s)", got, made, ns(first.Pid))
	}
	for path, want := range map[string]bool{hostTmp: false, filepath.Join(dir, "kept"): true, filepath.Join(xdg, "bus"): false,
		filepath.Join(home, ".ssh", "id_ed25519"): false} {
		if got := exists(second, path); got != want {
			t.Errorf("the second child sees %s: %v, want %v", path, got, want)
		}
	}

	// A mount made on the host after the namespace was made: not in it,
	// so the namespace is not used.
	held()
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "mode=755"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sub, unix.MNT_DETACH) // if the test fails before its own unmount
	if err := os.WriteFile(filepath.Join(sub, "mounted"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	third := start()
	if !exists(third, filepath.Join(sub, "mounted")) {
		t.Errorf("the third child does not see the host's new mount on %s", sub)
	}

	// A private directory removed and made again on the host: the
	// namespace made ahead covered the old one only.
	held()
	if err := os.RemoveAll(xdg); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(xdg, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	fourth := start()
	if exists(fourth, filepath.Join(xdg, "bus")) {
		t.Errorf("the fourth child sees the host's %s/bus", xdg)
	}

	// Unmounted on the host while the zygote idles: the namespace made
	// ahead, which holds a copy of that mount, is dropped at once (it
	// would keep the filesystem busy until the next launch).
	held()
	if err := unix.Unmount(sub, 0); err != nil {
		t.Fatal(err)
	}
	z := l.zygotePid()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		holds := ""
		ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", z))
		for _, e := range ents {
			if link, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", z, e.Name())); strings.HasPrefix(link, "mnt:[") && link != own {
				holds = link
			}
		}
		if holds == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle zygote still holds %s after the host unmounted %s", holds, sub)
		}
	}

	// A private directory that became a symbolic link on the host (its
	// path was resolved at the start): the launch fails, with either
	// namespace, rather than leave what the link points to in sight.
	fifth := start() // the next namespace is made for the same directories
	_ = fifth
	held()
	elsewhere := t.TempDir()
	if err := os.WriteFile(filepath.Join(elsewhere, "bus"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(xdg); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, xdg); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // with the namespace made ahead, and without
		p, err := l.Start(specFor(t, "/bin/sleep", "30"), Stdio{})
		if err == nil {
			leak := exists(p, filepath.Join(xdg, "bus"))
			p.Abort()
			t.Fatalf("launch %d with %s a link started (sees the link's bus: %v)", i, xdg, leak)
		}
		if !strings.Contains(err.Error(), xdg) {
			t.Errorf("launch %d: %v, want an error naming %s", i, err, xdg)
		}
	}
}

// A hidden path is hidden whatever kind of file it is when the child
// looks, by the zygote's child as by a Go stage: a directory under an
// empty tmpfs, a file, a named pipe or a socket under /dev/null (the
// child finds the kind itself: a path that changed kind since the zygote
// last saw it is hidden all the same).
func TestZygoteMasksEveryKindAsStage(t *testing.T) {
	needZygote(t)
	needRoot(t)
	dir := hostDir(t)
	paths := map[string]string{"dir": filepath.Join(dir, "d"), "file": filepath.Join(dir, "f"), "fifo": filepath.Join(dir, "p"), "sock": filepath.Join(dir, "s")}
	if err := os.Mkdir(paths["dir"], 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(paths["dir"], "inside"), []byte("x"), 0o644)
	if err := os.WriteFile(paths["file"], []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(paths["fifo"], 0o644); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: paths["sock"]}); err != nil {
		t.Fatal(err)
	}
	script := "for p in " + paths["dir"] + " " + paths["file"] + " " + paths["fifo"] + " " + paths["sock"] + `; do stat -c %F "$p"; done; ls -A ` + paths["dir"] + "; echo end"
	want := "directory\ncharacter special file\ncharacter special file\ncharacter special file\n" +
		"ls: cannot open directory '" + paths["dir"] + "': Permission denied\nend"
	iso := Isolation{Private: []string{"/tmp"}, Masked: []string{paths["dir"], paths["file"], paths["fifo"], paths["sock"]}}
	for _, kind := range []StageKind{StageGo, StageZygote, StageZygote} {
		if got := shellIn(t, kind, iso, script); got != want {
			t.Errorf("stage %v:\n%s\nwant\n%s", kind, got, want)
		}
	}
	// Without the masks: what was hidden.
	if got := shellIn(t, StageZygote, Isolation{Private: []string{"/tmp"}}, script); got != "directory\nregular file\nfifo\nsocket\ninside\nend" {
		t.Errorf("baseline without masks:\n%s", got)
	}
}

// The child's program skips both mounts for a hidden path it could not
// open, and binds /dev/null only over what its statx found not to be a
// directory (the tmpfs over what it found to be one): a file, then an
// absent path, a symbolic link to a file (its target is hidden), a
// directory and a file again are each hidden (or skipped) by the zygote's
// child as by a Go stage, and nothing hidden is readable through its link.
func TestZygoteMasksLinksAndGapsAsStage(t *testing.T) {
	needZygote(t)
	needRoot(t)
	dir := hostDir(t)
	p := func(n string) string { return filepath.Join(dir, n) }
	for _, f := range []string{"f", "g", "f2"} {
		if err := os.WriteFile(p(f), []byte("secret\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(p("d"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p("d"), "inside"), []byte("secret\n"), 0o644)
	if err := os.Symlink(p("g"), p("l")); err != nil {
		t.Fatal(err)
	}
	masked := []string{p("f"), p("absent"), p("l"), p("d"), p("f2")}
	script := "for f in " + p("f") + " " + p("l") + " " + p("g") + " " + p("d") + "/inside " + p("f2") +
		`; do if cat "$f" 2>/dev/null | grep -q secret; then echo "read $f"; else echo "hidden $f"; fi; done; echo end`
	var want strings.Builder
	for _, f := range []string{p("f"), p("l"), p("g"), p("d") + "/inside", p("f2")} {
		want.WriteString("hidden " + f + "\n")
	}
	want.WriteString("end")
	iso := Isolation{Private: []string{"/tmp"}, Masked: masked}
	for _, kind := range []StageKind{StageGo, StageZygote, StageZygote} {
		if got := shellIn(t, kind, iso, script); got != want.String() {
			t.Errorf("stage %v:\n%s\nwant\n%s", kind, got, want.String())
		}
	}
	// Without the masks every one is read.
	out := shellIn(t, StageZygote, Isolation{Private: []string{"/tmp"}}, script)
	if got := strings.Count(out, "read "); got != 5 {
		t.Errorf("baseline without masks read %d of 5:\n%s", got, out)
	}
}

// shellIn runs sh -c script in / through a launcher of kind with iso and
// returns its output, trimmed; the launch must exit 0, and with
// StageZygote be served by the zygote (not a stage it fell back to).
func shellIn(t *testing.T, kind StageKind, iso Isolation, script string) string {
	t.Helper()
	l := NewLauncher(LauncherOptions{Stage: kind, Isolation: iso})
	defer l.Close()
	spec := specFor(t, "sh", "-c", script)
	spec.Dir = "/"
	out, st := runAll(t, l, spec)
	exitOK(t, out, st)
	if kind == StageZygote && l.zygoteServed() != 1 {
		t.Fatalf("the zygote served %d launches, want 1 (it fell back to a stage)", l.zygoteServed())
	}
	return strings.TrimSpace(out)
}
