//go:build linux

package config

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// What the init stage writes for each MAC module (the apply path cannot run
// on a host without one).
func TestMACExecValue(t *testing.T) {
	for _, tc := range []struct {
		kind, attr, path, value string
	}{
		{"apparmor", "/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/apparmor/exec", "exec mcp-child"},
		{"selinux", "/proc/thread-self/attr/exec", "/proc/thread-self/attr/exec", "mcp-child"},
	} {
		path, value, err := macExec(tc.kind, tc.attr, "mcp-child")
		if err != nil || path != tc.path || value != tc.value {
			t.Errorf("%s: %q %q %v, want %q %q", tc.kind, path, value, err, tc.path, tc.value)
		}
	}
	_, _, err := macExec("", "", "mcp-child")
	if ec := errcode.As(err); ec == nil || ec.Code != errcode.LayerUnavailable || ec.Layer != "mac" {
		t.Errorf("no module: %v, want LAYER_UNAVAILABLE (mac)", err)
	}
}
