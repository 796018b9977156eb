package supervisor

import "os"

// readChunksPlain is readChunks with os.File.Read, for a file without a
// raw connection (and systems without one).
func readChunksPlain(f *os.File, fn func([]byte)) {
	bp := outputBufs.Get().(*[]byte)
	defer outputBufs.Put(bp)
	for {
		n, err := f.Read(*bp)
		if n > 0 {
			fn((*bp)[:n])
		}
		if err != nil {
			return
		}
	}
}
