package supervisor

import "os"

// readOutputPlain is readOutput with os.File.Read, for a file without a
// raw connection (and systems without one).
func readOutputPlain(f *os.File, r *ring, onData func()) {
	bp := outputBufs.Get().(*[]byte)
	defer outputBufs.Put(bp)
	for {
		n, err := f.Read(*bp)
		if n > 0 && r != nil {
			r.write((*bp)[:n])
			onData()
		}
		if err != nil {
			return
		}
	}
}
