package policy

import (
	"os"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
)

// The development profile on this host: what the tree may exec, how many
// files, how long the list takes (printed, never asserted).
func TestTreeExecutablesDevelopmentProfileOnThisHost(t *testing.T) {
	for _, name := range []string{"development", "cicd"} {
		c, err := config.Profile(name)
		if err != nil {
			t.Fatal(err)
		}
		c.EnableChroot = false
		start := time.Now()
		files, err := mustNew(t, *c).TreeFiles()
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d files in %v", name, len(files), took)
		if os.Getenv("TREE_LIST") != "" {
			for _, f := range files {
				t.Logf("  %s  (%s)", f.Path, f.Why)
			}
		}
	}
}
