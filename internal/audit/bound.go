package audit

import (
	"fmt"
	"unicode/utf8"
)

// Records stay small (SPEC 7.2): whatever a request carried, a record's
// string fields (names, paths, reasons, codes) and each argument or
// environment name are at most MaxFieldBytes, and each list (args,
// envNames) at most MaxListBytes in all. A value cut short ends with a
// note of its original length; a list cut short ends with an element
// saying how many elements and bytes were left out.
const (
	MaxFieldBytes = 4 << 10
	MaxListBytes  = 32 << 10
)

// boundRecord caps r's fields in place (r's slices are replaced, never
// modified: they may be the caller's).
func boundRecord(r *Record) {
	for _, f := range []*string{&r.Agent, &r.Tool, &r.Executable, &r.Cwd, &r.Layer, &r.Reason, &r.Code,
		&r.Signal, &r.TerminationReason, &r.GroupID, &r.ServiceID, &r.Event, &r.Level, &r.Decision, &r.Channel} {
		*f = boundString(*f)
	}
	if r.Network != nil {
		n := *r.Network // the caller's stays as it was
		for _, f := range []*string{&n.Via, &n.Destination, &n.IP, &n.Rule} {
			*f = boundString(*f)
		}
		r.Network = &n
	}
	r.Args = boundList(r.Args, "arguments")
	r.EnvNames = boundList(r.EnvNames, "environment names")
}

// boundString returns s, or its first bytes (cut at a character boundary)
// and a note of its length, at most MaxFieldBytes in all.
func boundString(s string) string {
	if len(s) <= MaxFieldBytes {
		return s
	}
	note := fmt.Sprintf("…[truncated: %d bytes]", len(s))
	cut := MaxFieldBytes - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}

// boundList bounds each element and the list's total size.
func boundList(l []string, what string) []string {
	total := 0
	for _, s := range l {
		total += len(s)
	}
	if total <= MaxListBytes {
		long := false
		for _, s := range l {
			long = long || len(s) > MaxFieldBytes
		}
		if !long {
			return l
		}
	}
	out := make([]string, 0, len(l))
	used := 0
	for i, s := range l {
		b := boundString(s)
		if used+len(b) > MaxListBytes-128 { // 128: room for the closing note
			rest := 0
			for _, s := range l[i:] {
				rest += len(s)
			}
			return append(out, fmt.Sprintf("[%d more %s (%d bytes) not recorded; %d in all]", len(l)-i, what, rest, len(l)))
		}
		out = append(out, b)
		used += len(b)
	}
	return out
}
