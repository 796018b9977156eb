package audit

// Redacted replaces a secret or a blocked-pattern match in a record.
const Redacted = "[redacted]"

// RedactArgs returns a copy of args with every index in matched replaced
// by "[redacted]", so a record of a denial on blockedArgumentPatterns does
// not repeat what was blocked. args itself is not modified.
func RedactArgs(args []string, matched map[int]bool) []string {
	if args == nil {
		return nil
	}
	out := make([]string, len(args))
	for i, a := range args {
		if matched[i] {
			out[i] = Redacted
		} else {
			out[i] = a
		}
	}
	return out
}
