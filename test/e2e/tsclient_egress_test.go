//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// The network allowlist (docs/network.md) through the TypeScript SDK's
// Client: a launch in allowlist mode fetches an allowed URL of a server the
// test runs on the host's loopback (it answers) and one on another
// loopback address the list does not name (the egress proxy answers 403,
// nothing reaches that server). The agent reads both through callTool; the
// audit log holds the allowed connection and the refusal, each with the
// launch's pid.

// tsFetcher is a child that fetches a URL through HTTP_PROXY.
type tsFetcher struct {
	name string
	exe  string
	args func(url string) []string
	// result reads the body and the HTTP status from the child's stdout.
	result func(stdout string) (body, code string)
}

// tsFetchers are the fetchers this host has: curl, and python3's urllib
// (egress_test.go's probe script, written into e's working directory).
func tsFetchers(t *testing.T, e *testEnv) []tsFetcher {
	var fs []tsFetcher
	if _, err := os.Stat("/usr/bin/curl"); err == nil {
		fs = append(fs, tsFetcher{"curl", "/usr/bin/curl",
			func(url string) []string {
				return []string{"-sS", "--max-time", "20", "-w", " [http %{http_code}]", url}
			},
			func(out string) (string, string) {
				body, code, _ := strings.Cut(out, " [http ")
				return strings.TrimSpace(body), strings.TrimSuffix(strings.TrimSpace(code), "]")
			}})
	}
	if _, err := os.Stat(python); err == nil {
		script := probeScript(t, e)
		fs = append(fs, tsFetcher{"python3", python,
			func(url string) []string { return []string{script, "http", url} },
			func(out string) (string, string) {
				out = strings.TrimSpace(out)
				if c, ok := strings.CutPrefix(out, "http "); ok {
					return "", c
				}
				return out, "200"
			}})
	}
	if len(fs) == 0 {
		t.Skip("neither /usr/bin/curl nor " + python + " is installed: no child to fetch through the egress proxy")
	}
	return fs
}

func tsEgressCase(t *testing.T, e *testEnv, start func(cfg map[string]any) map[string]any, agent string) {
	port, hits := hostHTTP(t, "127.0.0.1:0", "host")
	port2, hits2 := hostHTTP(t, "127.0.0.2:0", "127.0.0.2")
	fetchers := tsFetchers(t, e)
	var exes []string
	for _, f := range fetchers {
		exes = append(exes, f.exe)
	}
	cfg := e.config(exes...)
	cfg["allowedNetworkDestinations"] = []string{fmt.Sprintf("127.0.0.1:%d", port)}
	plan := start(cfg)
	allowedURL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	refusedURL := fmt.Sprintf("http://127.0.0.2:%d/", port2)
	calls := []tsCall{{Name: "process_get_policy"}}
	for _, f := range fetchers {
		calls = append(calls,
			tsCall{Name: "process_run", Arguments: map[string]any{"executable": f.exe, "args": f.args(allowedURL), "timeout": 60000}},
			tsCall{Name: "process_run", Arguments: map[string]any{"executable": f.exe, "args": f.args(refusedURL), "timeout": 60000}})
	}
	rep := runTSClient(t, e, plan, calls)
	checkTSReport(t, rep, calls)
	var pol struct {
		Layers map[string]string `json:"layers"`
	}
	_ = json.Unmarshal(rep.Results[0].Result.StructuredContent, &pol)
	if !strings.HasPrefix(pol.Layers["network"], "allowlist via proxy") {
		t.Fatalf("layers.network = %q, want the allowlist", pol.Layers["network"])
	}

	type launch struct {
		f       tsFetcher
		allowed runResult
		refused runResult
	}
	var runs []launch
	for i, f := range fetchers {
		l := launch{f: f}
		for j, r := range []*runResult{&l.allowed, &l.refused} {
			if err := json.Unmarshal(rep.Results[1+2*i+j].Result.StructuredContent, r); err != nil {
				t.Fatalf("%s: %v", f.name, err)
			}
		}
		runs = append(runs, l)
		if body, code := f.result(l.allowed.Stdout); l.allowed.ExitCode == nil || *l.allowed.ExitCode != 0 || body != "hello from host" || code != "200" {
			t.Errorf("%s %s: exit %v, body %q, status %s, want 0, hello from host, 200 (stderr %q)", f.name, allowedURL, l.allowed.ExitCode, body, code, l.allowed.Stderr)
		}
		// curl shows the proxy's answer, which says why; urllib raises
		// on the status alone.
		if body, code := f.result(l.refused.Stdout); code != "403" || (f.name == "curl" && !strings.Contains(body, "127.0.0.2 is refused")) {
			t.Errorf("%s %s (not allowed): stdout %q stderr %q, want the proxy's 403 saying why", f.name, refusedURL, l.refused.Stdout, l.refused.Stderr)
		}
	}
	if n := hits(); n != int64(len(fetchers)) {
		t.Errorf("the allowed server got %d requests, want %d", n, len(fetchers))
	}
	if n := hits2(); n != 0 {
		t.Errorf("ESCAPE: 127.0.0.2, not allowed, got %d requests", n)
	}

	// The audit records: each allowed connection and each refusal carries
	// the launch's pid; the close of the allowed one, its bytes.
	for _, l := range runs {
		pid := float64(l.allowed.Pid)
		eventually(t, 30*time.Second, l.f.name+"'s allowed connection and its close in the audit log", func() (bool, string) {
			var allow, closed bool
			for _, r := range networkRecords(t, e, "network") {
				allow = allow || (r["pid"] == pid && r["decision"] == "allow" && netField(r, "ip") == "127.0.0.1" &&
					netField(r, "port") == float64(port) && netField(r, "via") == "http" && (agent == "" || r["agent"] == agent))
			}
			for _, r := range networkRecords(t, e, "network_close") {
				in, _ := netField(r, "bytesIn").(float64)
				closed = closed || (r["pid"] == pid && netField(r, "port") == float64(port) && in > 0)
			}
			return allow && closed, fmt.Sprintf("allow %v close %v: %s", allow, closed, mustJSON(networkRecords(t, e, "network")))
		})
		var refusal bool
		for _, r := range networkRecords(t, e, "security_violation") {
			refusal = refusal || (r["pid"] == float64(l.refused.Pid) && r["decision"] == "deny" && r["reason"] != "" &&
				netField(r, "ip") == "127.0.0.2" && netField(r, "port") == float64(port2) && (agent == "" || r["agent"] == agent))
		}
		if !refusal {
			t.Errorf("%s: no refusal record for pid %d and 127.0.0.2:%d: %s", l.f.name, l.refused.Pid, port2, mustJSON(networkRecords(t, e, "security_violation")))
		}
	}
}

// tsEgressHost skips where the network cases cannot run as written: they
// run a root server, as CI does (an unprivileged one needs its children in
// a user namespace of their own, docs/network.md, which this config does
// not ask for).
func tsEgressHost(t *testing.T) {
	t.Helper()
	tsClient(t)
	if os.Geteuid() != 0 {
		t.Skip("the network allowlist cases run a root server (an unprivileged one needs namespaces.user, docs/network.md); not root")
	}
}

func TestTSClientEgressStdio(t *testing.T) {
	t.Parallel()
	tsEgressHost(t)
	e := newEnv(t)
	tsEgressCase(t, e, func(cfg map[string]any) map[string]any {
		path := e.writeConfig(t, "config.json", cfg)
		return map[string]any{"transport": "stdio", "command": serverBin, "args": []string{"serve", "--config", path}, "cwd": e.work}
	}, "")
}

func TestTSClientEgressHTTP(t *testing.T) {
	t.Parallel()
	tsEgressHost(t)
	e := newEnv(t)
	tsEgressCase(t, e, func(cfg map[string]any) map[string]any {
		cfg["agents"] = []map[string]string{{"id": "ts-agent", "tokenSha256": tokenHash("ts-token")}}
		_, url := startHTTPServer(t, e, cfg)
		return map[string]any{"transport": "http", "url": url, "token": "ts-token"}
	}, "ts-agent")
}
