//go:build linux

package escape

import (
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
