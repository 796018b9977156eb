//go:build linux

package escape

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// nobody is the unprivileged uid/gid of a root server's children, and of
// the unprivileged server that some tests start in the root-server mode.
const nobody = 65534

// TestUnprivilegedServerUserAndPidNamespaces: a server that is not root
// still isolates its children with a user namespace (mapping inside 0 onto
// its own uid) and a pid namespace, where the host allows unprivileged user
// namespaces: the child cannot see a host process that the same uid sees
// without the layer.
func TestUnprivilegedServerUserAndPidNamespaces_user_pid(t *testing.T) {
	ownServer(t, unprivilegedServerWhat)
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil || string(bytes.TrimSpace(b)) == "0" {
		t.Skip("this host allows no user namespaces (/proc/sys/user/max_user_namespaces)")
	}
	e := newEnv(t)
	// Everything the unprivileged server writes is its own.
	e.ownedByUnprivileged(t)
	v := hostSleeper(t)
	run := func(cfg map[string]any) result {
		t.Helper()
		path := e.writeConfig(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := e.serverCmdAs(ctx, unprivilegedCred(), "run", "--config", path, "--", probeBin, "see-pid", v.pidArg())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		return parseResult(t, stdout.Bytes(), stderr.String())
	}
	r := run(e.config(namespaces("user", "pid")))
	stopped(t, r, "", "user + pid namespaces of an unprivileged server")
	escaped(t, run(e.config()), "user + pid namespaces")
}

// TestEscape_KeepCapabilities_unprivilegedServer: an unprivileged server
// cannot give its children a capability on the host, and says so instead
// of accepting keepCapabilities and ignoring it: validate and run refuse
// the config (LAYER_UNAVAILABLE, naming the key) and the target never
// runs. The baselines: a root server accepts the same config, and so does
// the unprivileged server with namespaces.user (the capability then counts
// only in the child's namespaces: Caps_capabilities, Mount_capabilities).
func TestEscape_KeepCapabilities_unprivilegedServer(t *testing.T) {
	ownServer(t, "an unprivileged server (uid 65534, or the mode's unprivileged server), and a root server for the baseline")
	e := newEnv(t)
	e.ownedByUnprivileged(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	path := e.writeConfig(t, e.config(keep("CAP_SYS_ADMIN")))
	for _, args := range [][]string{
		{"validate", "--config", path},
		{"run", "--config", path, "--", probeBin, "caps"},
	} {
		out, err := e.serverCmdAs(ctx, unprivilegedCred(), args...).CombinedOutput()
		if err == nil {
			t.Fatalf("ESCAPE: an unprivileged server accepted keepCapabilities (%s):\n%s", args[0], out)
		}
		if !bytes.Contains(out, []byte(`"keepCapabilities"`)) || !bytes.Contains(out, []byte("LAYER_UNAVAILABLE")) {
			t.Fatalf("%s: want LAYER_UNAVAILABLE naming keepCapabilities: %v\n%s", args[0], err, out)
		}
		if bytes.Contains(out, []byte(`"attack"`)) {
			t.Fatalf("run: the target ran: %s", out)
		}
		t.Logf("stopped by the config check (%s): %s", args[0], bytes.TrimSpace(out))
	}
	// The root server's copy belongs to root: a root server refuses a
	// config file owned by another uid (a child may have written it).
	rootPath := filepath.Join(e.dir, "config-root.json")
	if b, err := os.ReadFile(path); err != nil || os.WriteFile(rootPath, b, 0o644) != nil || os.Chown(rootPath, 0, 0) != nil {
		t.Fatalf("copy the config for the root server: %v", err)
	}
	if out, err := e.serverCmdAs(ctx, nil, "validate", "--config", rootPath).CombinedOutput(); err != nil {
		t.Fatalf("baseline: a root server refused keepCapabilities: %v\n%s", err, out)
	}
	withUserNS := e.writeConfig(t, e.config(keep("CAP_SYS_ADMIN"), userNS))
	if out, err := e.serverCmdAs(ctx, unprivilegedCred(), "validate", "--config", withUserNS).CombinedOutput(); err != nil {
		t.Fatalf("baseline: an unprivileged server refused keepCapabilities with namespaces.user: %v\n%s", err, out)
	}
	t.Log("baseline: a root server, and the unprivileged server with namespaces.user, accept the config")
}
