//go:build linux

package escape

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"
)

// A child in a network namespace must not see the host's interfaces
// through /sys (SPEC 7.1): the stage mounts a fresh sysfs from inside the
// namespace, whose /sys/class/net lists lo only. The baseline, the same
// probe without the network namespace, lists the host's interfaces.
func TestEscape_SysClassNetHostInterfaces_networkNamespace(t *testing.T) {
	netns := func(extra map[string]any) layer {
		ns := map[string]any{"network": true}
		for k, v := range extra {
			ns[k] = v
		}
		return layer{"enableNamespaces": true, "namespaces": ns}
	}
	for _, tc := range []struct {
		name   string
		layers []layer
	}{
		{"network", []layer{netns(nil)}},
		{"network+user", []layer{netns(map[string]any{"user": true})}},
		{"network+pid+readOnlyFilesystem", []layer{netns(map[string]any{"pid": true}), {"readOnlyFilesystem": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := unprivilegedAdds(t, userNS, nsNeedsUserNS)
			e := newEnv(t)
			r := e.attack(t, e.config(append(tc.layers, u)...), probeBin, "sys-class-net")
			stopped(t, r, "", "network namespace with its own sysfs")
			if r.Detail != "/sys/class/net: lo" {
				t.Fatalf("want lo only: %s", r)
			}
			escaped(t, e.attack(t, e.config(), probeBin, "sys-class-net"), "the network namespace")
		})
	}
}

// The same for a server that is not root: its children's network namespace
// comes with a user namespace (mapping inside 0 onto the server's uid), and
// the fresh sysfs is mounted from inside it.
func TestEscape_SysClassNetHostInterfaces_unprivilegedNetworkNamespace(t *testing.T) {
	ownServer(t, unprivilegedServerWhat)
	b, err := os.ReadFile("/proc/sys/user/max_user_namespaces")
	if err != nil || string(bytes.TrimSpace(b)) == "0" {
		t.Skip("this host allows no user namespaces (/proc/sys/user/max_user_namespaces)")
	}
	e := newEnv(t)
	e.ownedByUnprivileged(t)
	run := func(cfg map[string]any) result {
		t.Helper()
		path := e.writeConfig(t, cfg)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := e.serverCmdAs(ctx, unprivilegedCred(), "run", "--config", path, "--", probeBin, "sys-class-net")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("unprivileged mcp-process run: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		}
		return parseResult(t, stdout.Bytes(), stderr.String())
	}
	r := run(e.config(layer{"enableNamespaces": true, "namespaces": map[string]any{"user": true, "network": true}}))
	stopped(t, r, "", "user + network namespaces of an unprivileged server, with their own sysfs")
	if r.Detail != "/sys/class/net: lo" {
		t.Fatalf("want lo only: %s", r)
	}
	escaped(t, run(e.config()), "the network namespace")
}
