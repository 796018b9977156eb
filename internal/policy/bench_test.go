package policy

import (
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// BenchmarkEvaluate is the policy decision for a typical request: an
// allowlisted executable found on the search path, three arguments, a
// working directory, two environment variables, default limits. The
// performance target is a median under 20 µs (docs/performance.md).
func BenchmarkEvaluate(b *testing.B) {
	work := b.TempDir()
	cfg := config.Defaults()
	cfg.AllowedExecutables = []string{"/bin/echo", "/usr/bin/echo"}
	cfg.AllowedWorkingDirectories = []string{work}
	p, err := New(cfg, WithHomes(b.TempDir()))
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Agent: "bench", Executable: "echo", Args: []string{"hello", "--flag", "world"}, Cwd: work,
		Env: map[string]string{"LANG": "C.UTF-8", "CI": "1"}}
	now := time.Now()
	if d := p.Evaluate(req, now); !d.Allow {
		b.Fatalf("the request is denied: %v", d.Err)
	}
	b.ReportAllocs()
	for b.Loop() {
		p.Evaluate(req, now)
	}
}
