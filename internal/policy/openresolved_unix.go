//go:build unix && !linux

package policy

// openResolved opens file, a real path the policy has just resolved, to
// read it, refusing a symbolic link as its last component (swapped in
// since the resolution). See readFlags for the rest.
func openResolved(file string) (int, error) { return openNoFollow(file) }
