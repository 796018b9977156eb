//go:build linux

package selfprotect

import "testing"

// The test binary imports this package, so it is non-dumpable from its init.
func TestProcessIsNotDumpable(t *testing.T) {
	if Err() != nil {
		t.Fatalf("PR_SET_DUMPABLE 0 failed: %v", Err())
	}
	if Dumpable() {
		t.Fatal("the process is still dumpable after the package's init")
	}
}
