//go:build linux

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// SPEC 7.1: a root server's children are 65534:65534 with no supplementary
// groups by default, or runAsUser/runAsGroup; uid 0 needs a user namespace.
func TestChildIdentity(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the children's identity is a root server's choice; this test runs as root")
	}
	t.Parallel()
	e := newEnv(t)
	status := func(cfg map[string]any) string {
		t.Helper()
		s := startServer(t, e, cfg)
		defer s.close()
		var r runResult
		s.ok("process_run", map[string]any{"executable": "/bin/cat", "args": []string{"/proc/self/status"}}, &r)
		return r.Stdout
	}
	field := func(st, name string) string {
		for _, l := range strings.Split(st, "\n") {
			if v, ok := strings.CutPrefix(l, name+":"); ok {
				return strings.Join(strings.Fields(v), " ")
			}
		}
		return "?"
	}
	st := status(e.config("/bin/cat"))
	if field(st, "Uid") != "65534 65534 65534 65534" || field(st, "Gid") != "65534 65534 65534 65534" || field(st, "Groups") != "" {
		t.Fatalf("default child: Uid %q Gid %q Groups %q, want 65534 everywhere and no groups", field(st, "Uid"), field(st, "Gid"), field(st, "Groups"))
	}
	cfg := e.config("/bin/cat")
	cfg["runAsUser"], cfg["runAsGroup"] = 4242, "nogroup"
	st = status(cfg)
	if field(st, "Uid") != "4242 4242 4242 4242" || field(st, "Gid") != "65534 65534 65534 65534" {
		t.Fatalf("runAsUser 4242, runAsGroup nogroup: Uid %q Gid %q", field(st, "Uid"), field(st, "Gid"))
	}
	// keepCapabilities works through the ambient set for the unprivileged uid.
	cfg = e.config("/bin/cat")
	cfg["keepCapabilities"] = []string{"CAP_NET_BIND_SERVICE"}
	st = status(cfg)
	if field(st, "CapAmb") != "0000000000000400" || field(st, "CapEff") != "0000000000000400" {
		t.Fatalf("keepCapabilities CAP_NET_BIND_SERVICE as uid 65534: CapAmb %q CapEff %q", field(st, "CapAmb"), field(st, "CapEff"))
	}

	// uid 0 without a user namespace is refused at start, naming the key.
	root := e.config("/bin/cat")
	root["runAsUser"] = 0
	_, errOut, code := runCLI(t, e, "", nil, "validate", "--config", e.writeConfig(t, "root.json", root))
	if code != 2 || !strings.Contains(errOut, "runAsUser") || !strings.Contains(errOut, "namespaces.user") {
		t.Fatalf("runAsUser 0: exit %d, stderr %s", code, errOut)
	}
}

// validate warns (exit 0) when the children cannot enter or write an
// allowed working directory.
func TestValidateWarnsOfADirectoryTheChildrenCannotUse(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("as root only: a non-root server's children are the server")
	}
	t.Parallel()
	e := newEnv(t)
	private := filepath.Join(e.dir, "private")
	readonly := filepath.Join(e.dir, "readonly")
	for d, mode := range map[string]os.FileMode{private: 0o700, readonly: 0o755} {
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, mode)
	}
	cfg := e.config("/bin/cat")
	cfg["allowedWorkingDirectories"] = []string{e.work, private, readonly}
	out, errOut, code := runCLI(t, e, "", nil, "validate", "--config", e.writeConfig(t, "dirs.json", cfg))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Warnings) != 2 || !strings.Contains(v.Warnings[0], "[1] "+private+": the children (uid 65534) cannot enter it") ||
		!strings.Contains(v.Warnings[1], "[2] "+readonly+": the children (uid 65534) cannot write it") {
		t.Fatalf("warnings %q", v.Warnings)
	}
}

// validate warns (exit 0) of an allowlist entry that matches no file here.
func TestValidateWarnsOfAMissingExecutable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config("/bin/cat", "no-such-tool-here", "/opt/no-such-dir/*")
	out, errOut, code := runCLI(t, e, "", nil, "validate", "--config", e.writeConfig(t, "exes.json", cfg))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v struct {
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(v.Warnings, "\n")
	if !strings.Contains(joined, `allowedExecutables[1] "no-such-tool-here" matches no file in searchPath`) ||
		!strings.Contains(joined, `allowedExecutables[2] "/opt/no-such-dir/*" matches no file on this host`) ||
		strings.Contains(joined, "allowedExecutables[0]") {
		t.Fatalf("warnings %q", v.Warnings)
	}
}
