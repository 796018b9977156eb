package policy

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
)

// The decision's own work was made cheaper (docs/performance.md, "The
// policy's own work"): each helper below replaced an expression or an
// implementation, and must answer exactly as it did. These tests hold
// the old way as the reference.

func TestValidEnvNameIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	alphabet := []string{"A", "z", "_", "0", "9", "-", ".", "=", "$", " ", "\x00", "\n", "é", "\xff", "Ä°"}
	var names []string
	var gen func(prefix string, depth int)
	gen = func(prefix string, depth int) {
		names = append(names, prefix)
		if depth == 0 {
			return
		}
		for _, a := range alphabet {
			gen(prefix+a, depth-1)
		}
	}
	gen("", 3)
	names = append(names, "LANG", "CI", "PATH", "A1", "_", "__x9", "9A", "A-B", "A B", "A\nB", strings.Repeat("x", 5000))
	for _, n := range names {
		if got, want := validEnvName(n), re.MatchString(n); got != want {
			t.Errorf("validEnvName(%q) = %v, the regexp says %v", n, got, want)
		}
	}
}

func TestWithinAndDotDotAsConcatenated(t *testing.T) {
	oldWithin := func(p, dir string) bool { return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/") }
	paths := []string{"", "/", "/a", "/a/", "/a/b", "/ab", "/a/b/c", "/a.b", "/a/..", "/a/../b", "/..", "..", "a/..", "/a/...", "/a/..b", "/a/b/../", "/a//b"}
	for _, p := range paths {
		for _, d := range paths {
			if got, want := within(p, d), oldWithin(p, d); got != want {
				t.Errorf("within(%q, %q) = %v, want %v", p, d, got, want)
			}
		}
		if got, want := hasDotDot(p), strings.Contains(p+"/", "/../"); got != want {
			t.Errorf("hasDotDot(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestJoinNameIsJoin(t *testing.T) {
	for _, d := range []string{"/", "/usr/bin", "/a/b", "/usr//bin", "/usr/bin/", "/usr/./bin", "/usr/bin/..", "rel", ""} {
		for _, n := range []string{"echo", "python3.11", ".", "..", "...", ".x", "a/b", "/abs", "", "x y", "a\\b"} {
			if got, want := joinName(d, n), filepath.Join(d, n); got != want {
				t.Errorf("joinName(%q, %q) = %q, filepath.Join says %q", d, n, got, want)
			}
		}
	}
}

// composeByMap is composeEnvironment as it was: a map, then the sorted
// "NAME=value" strings.
func composeByMap(p *Policy, home string, reqEnv map[string]string) []string {
	env := map[string]string{"PATH": p.searchPath, "LANG": "C.UTF-8", "TERM": "dumb", "TMPDIR": "/tmp"}
	for _, n := range p.cfg.InheritEnvVars {
		if v := p.getenv(n); v != "" {
			env[n] = v
		}
	}
	maps.Copy(env, reqEnv)
	if p.proxied {
		for _, kv := range ProxyEnv() {
			n, v, _ := strings.Cut(kv, "=")
			env[n] = v
		}
	}
	env["HOME"] = "/"
	if home != "" {
		env["HOME"] = home
	}
	var out []string
	for n, v := range env {
		out = append(out, n+"="+v)
	}
	slices.Sort(out)
	return out
}

func TestComposeEnvironmentAsTheMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pool := []string{"A", "A1", "A_", "Z", "LANG", "TERM", "TMPDIR", "TZ", "PATH", "HOME", "HTTP_PROXY", "http_proxy",
		"NO_PROXY", "CI", "X", "Y", "GOFLAGS", "B2", "B", "lang", "AB", "A=B"}
	for i := range 2000 {
		server := map[string]string{}
		var inherit []string
		for range rng.IntN(6) {
			n := pool[rng.IntN(len(pool))]
			inherit = append(inherit, n)
			if rng.IntN(4) > 0 {
				server[n] = fmt.Sprint("srv", rng.IntN(3))
			}
		}
		req := map[string]string{}
		for range rng.IntN(25) { // past the 16 names held on the stack
			n := pool[rng.IntN(len(pool))]
			if rng.IntN(3) == 0 {
				n = fmt.Sprint("V", rng.IntN(40))
			}
			req[n] = fmt.Sprint(rng.IntN(3), "=", rng.IntN(2))
		}
		p := &Policy{cfg: &config.Config{InheritEnvVars: inherit}, searchPath: "/usr/bin:/bin",
			getenv: func(n string) string { return server[n] }, proxied: rng.IntN(2) == 0}
		home := []string{"", "/var/lib/homes/a"}[rng.IntN(2)]
		got, want := p.composeEnvironment(home, req), composeByMap(p, home, req)
		if !slices.Equal(got, want) {
			t.Fatalf("case %d: composeEnvironment\n%q, the map gives\n%q", i, got, want)
		}
	}
}
