//go:build !linux

package supervisor

import "os"

// stdioPipe makes one pipe of a launch's stdio (pipe_linux.go).
func stdioPipe(oursReads bool) (ours, theirs *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil || !oursReads {
		return w, r, err
	}
	return r, w, nil
}
