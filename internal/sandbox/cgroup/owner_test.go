package cgroup

import (
	"errors"
	"testing"
)

func TestParseOwner(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
		want owner
	}{
		{"mcp-process-123-456789", true, owner{pid: 123, start: 456789}},
		{"mcp-process-123-456789-server", true, owner{pid: 123, start: 456789}},
		{"mcp-process-123", true, owner{pid: 123, legacy: true}},
		{"mcp-process-123-server", true, owner{pid: 123, legacy: true}},
		{ServerPrefix(42, 7), true, owner{pid: 42, start: 7}},
		// Not a server's group: never touched.
		{"mcp-process-test-123-4", false, owner{}},
		{"mcp-process-suptest-123", false, owner{}},
		{"mcp-process-0-5", false, owner{}},
		{"mcp-process--5", false, owner{}},
		{"mcp-process-+5-6", false, owner{}},
		{"mcp-process-5-6-7", false, owner{}},
		{"mcp-process-5-", false, owner{}},
		{"mcp-process-", false, owner{}},
		{"mcp-process-5-6-serverx", false, owner{}},
		{"p-1-2", false, owner{}},
		{"stage-1-3", false, owner{}},
		{"mcp-process-99999999999999999999-1", false, owner{}},
	} {
		got, ok := parseOwner(c.name)
		if ok != c.ok || got != c.want {
			t.Errorf("parseOwner(%q) = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestOwnerAlive(t *testing.T) {
	const self = 1000
	// A fake /proc: pid 10 started at 500, pid 11 unreadable, others gone.
	state := func(pid int) (uint64, bool, error) {
		switch pid {
		case 10:
			return 500, false, nil
		case 11:
			return 0, false, errors.New("EACCES")
		case self:
			return 900, false, nil
		}
		return 0, true, nil
	}
	for _, c := range []struct {
		name  string
		alive bool
	}{
		{"mcp-process-10-500", true},          // running: a server beside us
		{"mcp-process-10-500-server", true},   // its v2 leaf
		{"mcp-process-10-499", false},         // pid reused by another process
		{"mcp-process-12-500", false},         // pid gone
		{"mcp-process-11-500", true},          // cannot tell: never touched
		{"mcp-process-10", true},              // legacy: the pid lives (maybe the owner)
		{"mcp-process-12", false},             // legacy: the pid is gone
		{"mcp-process-12-server", false},      // legacy leaf
		{"mcp-process-1000", false},           // legacy with our own pid: a dead predecessor's
		{"mcp-process-1000-899", false},       // our pid, another start: a predecessor's
		{"mcp-process-1000-900", true},        // ourselves
		{"mcp-process-1000-900-server", true}, // our leaf
	} {
		o, ok := parseOwner(c.name)
		if !ok {
			t.Fatalf("parseOwner(%q) failed", c.name)
		}
		if got := o.alive(self, state); got != c.alive {
			t.Errorf("%s: alive = %v, want %v", c.name, got, c.alive)
		}
	}
}

func TestParseStartTime(t *testing.T) {
	for _, c := range []struct {
		stat string
		want uint64
		ok   bool
	}{
		{"4242 (sleep) S 1 4242 4242 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 53666 2400000 150 18446744073709551615", 53666, true},
		// A command name with spaces and parentheses.
		{"7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0 0", 99, true},
		{"7 (x) R 1 7", 0, false},
		{"no parenthesis", 0, false},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber 0", 0, false},
	} {
		got, ok := parseStartTime(c.stat)
		if got != c.want || ok != c.ok {
			t.Errorf("parseStartTime(%q) = %d, %v; want %d, %v", c.stat, got, ok, c.want, c.ok)
		}
	}
}
