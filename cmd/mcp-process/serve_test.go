package main

import (
	"errors"
	"strings"
	"testing"
)

// HTTP without agents: loopback only, and never on a root server (SPEC 6,
// 7.1); with agents any address.
func TestCheckHTTPBind(t *testing.T) {
	for _, tc := range []struct {
		addr         string
		agents, root bool
		refused      string // "" = accepted; else a word the message must hold
	}{
		{"127.0.0.1:8080", false, false, ""},
		{"localhost:8080", false, false, ""},
		{"[::1]:8080", false, false, ""},
		{"0.0.0.0:8080", false, false, "non-loopback"},
		{"127.0.0.1:8080", false, true, "root"},
		{"localhost:0", false, true, "tokenSha256"},
		{"0.0.0.0:8080", false, true, "root"},
		{"127.0.0.1:8080", true, true, ""},
		{"0.0.0.0:8080", true, true, ""},
		{"0.0.0.0:8080", true, false, ""},
		{"nonsense", true, true, "host:port"},
	} {
		err := checkHTTPBind(tc.addr, tc.agents, tc.root)
		if tc.refused == "" {
			if err != nil {
				t.Errorf("%s agents=%v root=%v: refused: %v", tc.addr, tc.agents, tc.root, err)
			}
			continue
		}
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%s agents=%v root=%v: want exit 2, got %v", tc.addr, tc.agents, tc.root, err)
			continue
		}
		if !strings.Contains(ee.msg, tc.refused) {
			t.Errorf("%s agents=%v root=%v: message %q does not say %q", tc.addr, tc.agents, tc.root, ee.msg, tc.refused)
		}
		if tc.root && !tc.agents && !strings.Contains(ee.msg, `"agents"`) {
			t.Errorf("%s as root: the message does not name the agents key: %q", tc.addr, ee.msg)
		}
	}
}
