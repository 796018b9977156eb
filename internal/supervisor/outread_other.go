//go:build !unix

package supervisor

import "os"

func readChunks(f *os.File, fn func([]byte)) { readChunksPlain(f, fn) }
