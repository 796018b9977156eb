//go:build linux

package escape

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SPEC 7.1a: every child of a root server (or of any server with
// namespaces.user) has its own empty /tmp, /var/tmp, /run, /dev/shm, and
// the server user's credential locations and hiddenPaths are hidden. Each
// baseline is the probe run directly as the children's uid. An
// unprivileged server gives its children that view inside a user
// namespace only: against one, the tests add namespaces.user.

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, os.Getpid(), time.Now().UnixNano())
}

// privateViewNeedsUserNS: why the tests below add namespaces.user against
// an unprivileged server.
const privateViewNeedsUserNS = "an unprivileged server gives its children a private view only inside a user namespace (SPEC 7.1a)"

func TestEscape_ReadHostTmpFile_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	for _, dir := range []string{"/tmp", "/var/tmp", "/dev/shm"} {
		e := newEnv(t)
		p := filepath.Join(dir, uniqueName("mcp-process-escape"))
		if err := os.WriteFile(p, []byte("host temporary file\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
		r := e.attack(t, e.config(u), probeBin, "read-file", p)
		stopped(t, r, "ENOENT", "private view: the child's own "+dir)
		escaped(t, direct(t, asChildUser(probe("read-file", p))), "private view (the probe run directly as the children's uid)")
	}
}

// A service's socket in /run (D-Bus, systemd, docker.sock live there).
func TestEscape_ConnectHostRunSocket_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	e := newEnv(t)
	p := filepath.Join("/run", uniqueName("mcp-process-escape")+".sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); os.Remove(p) })
	os.Chmod(p, 0o777)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// allowUnixSockets: the seccomp baseline would refuse socket(AF_UNIX)
	// first (unixsock_test.go); this test is about the private /run.
	r := e.attack(t, e.config(u, layer{"allowUnixSockets": true}), probeBin, "unix-connect", p)
	stopped(t, r, "ENOENT", "private view: the child's own /run")
	escaped(t, direct(t, asChildUser(probe("unix-connect", p))), "private view (the probe run directly as the children's uid)")
}

// The server user's ~/.ssh (the server's HOME is the env's home here).
func TestEscape_ReadServerUsersSSHKey_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	e := newEnv(t)
	ssh := filepath.Join(e.dir, "home", ".ssh")
	if err := os.MkdirAll(ssh, 0o755); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(ssh, "id_test")
	if err := os.WriteFile(key, []byte("PRIVATE KEY\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.attack(t, e.config(u), probeBin, "read-file", key)
	stopped(t, r, "EACCES", "private view: ~/.ssh hidden")
	escaped(t, direct(t, asChildUser(probe("read-file", key))), "private view (the probe run directly as the children's uid)")
}

func TestEscape_ReadHiddenPath_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	e := newEnv(t)
	secret := filepath.Join(e.dir, "secret.txt")
	if err := os.WriteFile(secret, []byte("TOP SECRET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := e.attack(t, e.config(layer{"hiddenPaths": []string{secret}}, u), probeBin, "read-file", secret)
	stopped(t, r, "EACCES", "hiddenPaths: the file is a nodev /dev/null, which cannot be opened")
	w := e.attack(t, e.config(layer{"hiddenPaths": []string{secret}}, u), probeBin, "write-file", secret)
	stopped(t, w, "EACCES", "hiddenPaths")
	b := e.attack(t, e.config(u), probeBin, "read-file", secret)
	if !b.OK || !strings.Contains(b.Detail, "TOP SECRET") {
		t.Fatalf("baseline without hiddenPaths: the file should be readable: %s", b)
	}
}

// The key that signs the audit log (auditSigningKeyFile, SPEC 7.2) is
// hidden from every child, even one whose uid could read it (against an
// unprivileged server the children's uid is the server's, the key's owner).
// Baseline: the same file, not named as the key, is read.
func TestEscape_ReadAuditSigningKey_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	e := newEnv(t)
	key := filepath.Join(e.dir, "audit.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("audit-signing-key", 4)), 0o600); err != nil {
		t.Fatal(err)
	}
	cred := childCred()
	if err := os.Chown(key, int(cred.Uid), int(cred.Gid)); err != nil {
		t.Fatal(err)
	}
	r := e.attack(t, e.config(layer{"auditSigningKeyFile": key}, u), probeBin, "read-file", key)
	stopped(t, r, "EACCES", "private view: the audit signing key is a nodev /dev/null to children")
	b := e.attack(t, e.config(u), probeBin, "read-file", key)
	escaped(t, b, "auditSigningKeyFile (the same file, not the server's key)")
}

// TestEscape_ReadHiddenFileReplacedOnHost_privateView: a hidden file that
// the host replaces by a rename while a child runs (git's credential store
// writes ~/.git-credentials.lock, then renames it over ~/.git-credentials;
// editors save so) stays out of that child's sight. The mask (/dev/null
// bound over the file's directory entry) is not enough: the rename detaches
// it in every child's namespace. The files, owned by the children's uid
// (mode 0600, as git writes them), are readable to them by their
// permissions, so only the sandbox keeps them out. The replacement, written
// after the launch (under a name that did not exist when the child
// started), holds "NEW SECRET". A file beside it that existed at launch
// stays readable to the child. Baseline: the same sequence without
// hiddenPaths, where the child reads the new file.
func TestEscape_ReadHiddenFileReplacedOnHost_privateView(t *testing.T) {
	u := unprivilegedAdds(t, userNS, privateViewNeedsUserNS)
	e := newEnv(t)
	t.Run("hiddenPaths", func(t *testing.T) {
		dir := filepath.Join(e.dir, "hidden")
		secret := filepath.Join(dir, "secret.txt")
		r := readAfterHostReplaces(t, e, e.config(layer{"hiddenPaths": []string{secret}}, u), dir)
		// The mask held until the host's rename.
		stopped(t, r.startSecret, "EACCES", "hiddenPaths (the file as the child started)")
		for _, sib := range []result{r.startSibling, r.sibling} {
			if !sib.OK || !strings.Contains(sib.Detail, "SIBLING") {
				t.Errorf("a file beside the hidden one, there at launch, should stay readable to the child: %s", sib)
			}
		}
		stopped(t, r.secret, "EACCES", "private view: the hidden file stays hidden once the host renamed a new one over it")
	})
	t.Run("baseline", func(t *testing.T) {
		dir := filepath.Join(e.dir, "plain")
		r := readAfterHostReplaces(t, e, e.config(u), dir)
		if !r.startSecret.OK || !strings.Contains(r.startSecret.Detail, "OLD SECRET") {
			t.Fatalf("baseline: the child should read the file as it started: %s", r.startSecret)
		}
		if !r.sibling.OK || !strings.Contains(r.sibling.Detail, "SIBLING") {
			t.Fatalf("baseline: the file beside should be readable: %s", r.sibling)
		}
		if !r.secret.OK || !strings.Contains(r.secret.Detail, "NEW SECRET") {
			t.Fatalf("baseline without hiddenPaths: the child should read the file the host renamed over the old one: %s", r.secret)
		}
		escaped(t, r.secret, "hiddenPaths (the replaced file, read by the running child)")
	})
}

// hostReplaceReads is what the child of readAfterHostReplaces read: both
// files as it started, then after the host's rename.
type hostReplaceReads struct {
	startSecret, startSibling result
	secret, sibling           result
}

// readAfterHostReplaces makes dir (outside the working directory and /tmp)
// with secret.txt and sibling.txt, both the children's (mode 0600), starts
// `probe read-file-when` through process_start under cfg, and once the
// child runs (it has read both files once) writes secret.txt.lock and
// renames it over secret.txt, as git's credential store does; then it lets
// the child read both files again.
func readAfterHostReplaces(t *testing.T, e *testEnv, cfg map[string]any, dir string) hostReplaceReads {
	t.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cred := childCred()
	writeChildFile := func(p, content string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	secretPath, siblingPath := filepath.Join(dir, "secret.txt"), filepath.Join(dir, "sibling.txt")
	writeChildFile(secretPath, "OLD SECRET\n")
	writeChildFile(siblingPath, "SIBLING\n")
	s := startServe(t, e, cfg)
	name := filepath.Base(dir)
	ready, goFile := filepath.Join(e.work, name+".ready"), filepath.Join(e.work, name+".go")
	r := s.call("process_start", map[string]any{"executable": probeBin,
		"args": []string{"read-file-when", ready, goFile, "30", secretPath, siblingPath}, "cwd": e.work})
	pid, _ := r["pid"].(float64)
	output := func() string {
		o := s.call("process_get_output", map[string]any{"pid": pid, "stream": "both"})
		return fmt.Sprintf("stdout %q, stderr %q", o["stdout"], o["stderr"])
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child (pid %v) never said it runs: %s; server stderr:\n%s", pid, output(), s.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The host's replacement, made while the child runs, under a name that
	// did not exist when it started.
	writeChildFile(secretPath+".lock", "NEW SECRET\n")
	if err := os.Rename(secretPath+".lock", secretPath); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	st := s.call("process_wait", map[string]any{"pid": pid, "timeout": 30000})
	if st["state"] == "running" {
		t.Fatalf("the child (pid %v) still runs: %s", pid, output())
	}
	o := s.call("process_get_output", map[string]any{"pid": pid, "stream": "stdout"})
	out, _ := o["stdout"].(string)
	var rs []result
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var x result
		if err := json.Unmarshal([]byte(l), &x); err != nil || x.Attack == "" {
			t.Fatalf("not a probe line %q in the child's output (status %v): %s", l, st, output())
		}
		rs = append(rs, x)
	}
	if len(rs) != 5 {
		t.Fatalf("want the probe's two reads at start, two after the rename and its summary, got %d lines (status %v): %s", len(rs), st, output())
	}
	t.Logf("the child read, as it started: %s; %s", rs[0], rs[1])
	t.Logf("the child read, after the host's rename: %s; %s", rs[2], rs[3])
	return hostReplaceReads{startSecret: rs[0], startSibling: rs[1], secret: rs[2], sibling: rs[3]}
}
