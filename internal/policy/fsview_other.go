//go:build !linux

package policy

// resolveInRootOpenat2 is Linux only; elsewhere the portable walk resolves.
func resolveInRootOpenat2(root, p string) (inner string, ok bool, err error) {
	return "", false, nil
}
