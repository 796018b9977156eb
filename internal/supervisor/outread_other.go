//go:build !unix

package supervisor

import "os"

func readOutput(f *os.File, r *ring, onData func()) { readOutputPlain(f, r, onData) }
