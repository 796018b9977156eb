//go:build linux

package escape

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// nobody is the unprivileged uid/gid the server runs as in this test.
const nobody = 65534

// TestUnprivilegedServerUserAndPidNamespaces: a server that is not root
// still isolates its children with a user namespace (mapping inside 0 onto
// its own uid) and a pid namespace, where the host allows unprivileged user
// namespaces: the child cannot see a host process that the same uid sees
// without the layer.
func TestUnprivilegedServerUserAndPidNamespaces_user_pid(t *testing.T) {
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil || string(bytes.TrimSpace(b)) == "0" {
		t.Skip("this host allows no user namespaces (/proc/sys/user/max_user_namespaces)")
	}
	e := newEnv(t)
	// Everything the unprivileged server writes is its own.
	for _, d := range []string{e.dir, e.work, filepath.Join(e.dir, "home"), filepath.Join(e.dir, "audit")} {
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	v := hostSleeper(t)
	run := func(cfg map[string]any) result {
		t.Helper()
		path := e.writeConfig(t, cfg)
		os.Chown(path, nobody, nobody)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, serverBin, "run", "--config", path, "--", probeBin, "see-pid", v.pidArg())
		cmd.Dir, cmd.Env = e.work, e.environ()
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		return parseResult(t, stdout.Bytes(), stderr.String())
	}
	r := run(e.config(layer{"enableNamespaces": true, "namespaces": map[string]any{"user": true, "pid": true}}))
	stopped(t, r, "", "user + pid namespaces of an unprivileged server")
	escaped(t, run(e.config()), "user + pid namespaces")
}
