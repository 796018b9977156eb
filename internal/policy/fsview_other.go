//go:build !linux

package policy

import "io/fs"

// resolveInRootOpenat2 is Linux only; elsewhere the portable walk resolves.
func resolveInRootOpenat2(root, p string) (inner string, ok bool, err error) {
	return "", false, nil
}

// resolveHostByFd is Linux only; elsewhere filepath.EvalSymlinks resolves.
func resolveHostByFd(p string, withStat bool) (real string, fi fs.FileInfo, ok bool, err error) {
	return "", nil, false, nil
}

// resolveHostDir is Linux only; elsewhere the caller stats the path.
func resolveHostDir(p string) (real string, isDir, ok bool, err error) {
	return "", false, false, nil
}

// resolveFileByFd is Linux only; elsewhere the file is resolved and
// stat'ed the portable way.
func resolveFileByFd(name string) (r *resolved, ok bool, err error) { return nil, false, nil }
