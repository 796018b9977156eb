package cgroup

import (
	"strconv"
	"strings"
)

// The server's parent groups are named after the server that owns them:
// "mcp-process-<pid>-<start>", where start is the server's start time in
// clock ticks since boot (/proc/<pid>/stat field 22). A pid alone is
// reused; a pid and its start time name one process for the life of the
// machine (or of its pid namespace). The v2 server leaf adds "-server".
// Before this naming, groups were "mcp-process-<pid>" (and "-server"):
// those are recognised too, as "legacy", whose owner cannot be told apart
// from a later process with its pid.
const ownerPrefix = "mcp-process-"

// ServerPrefix is the name of the parent groups of the server with pid
// and start time start.
func ServerPrefix(pid int, start uint64) string {
	return ownerPrefix + strconv.Itoa(pid) + "-" + strconv.FormatUint(start, 10)
}

// owner identifies the server that created a group.
type owner struct {
	pid    int
	start  uint64
	legacy bool // "mcp-process-<pid>": no start time
}

// parseOwner parses a group name made by ServerPrefix (or its legacy
// form), with or without the "-server" suffix of the v2 server leaf. Any
// other name is not a server's group (ok false) and is never touched.
func parseOwner(name string) (o owner, ok bool) {
	rest, found := strings.CutPrefix(name, ownerPrefix)
	if !found {
		return owner{}, false
	}
	rest = strings.TrimSuffix(rest, "-server")
	pidStr, startStr, two := strings.Cut(rest, "-")
	pid, err := atoiStrict(pidStr)
	if err != nil || pid <= 0 {
		return owner{}, false
	}
	if !two {
		return owner{pid: pid, legacy: true}, true
	}
	start, err := atoiStrict(startStr)
	if err != nil {
		return owner{}, false
	}
	return owner{pid: pid, start: uint64(start)}, true
}

// atoiStrict accepts decimal digits only (no sign, no spaces), up to 19.
func atoiStrict(s string) (int, error) {
	if s == "" || len(s) > 19 {
		return 0, strconv.ErrSyntax
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	return strconv.Atoi(s)
}

// procState is what /proc says of a pid: startOf returns its start time,
// or gone = true when no such process exists. Any other error (an
// unreadable /proc) must be taken as "alive": a group is swept only when
// its owner is known to be gone.
type procState func(pid int) (start uint64, gone bool, err error)

// alive says whether the owner may still be running. self is this
// server's pid: a legacy group with our own pid is a dead predecessor's
// (this server's own groups have the new name).
func (o owner) alive(self int, state procState) bool {
	if o.legacy && o.pid == self {
		return false
	}
	start, gone, err := state(o.pid)
	switch {
	case err != nil:
		return true // cannot tell: never touch
	case gone:
		return false
	case o.legacy:
		return true // some process has the pid: it may be the owner
	}
	return start == o.start
}

// parseStartTime returns field 22 (starttime) of a /proc/<pid>/stat line.
// The command name (field 2) is in parentheses and may contain spaces and
// parentheses itself: fields are counted after its last ')'.
func parseStartTime(stat string) (uint64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // field 3 (state) onwards
	if len(f) < 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(f[19], 10, 64)
	return n, err == nil
}
