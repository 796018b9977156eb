package supervisor

import "sync"

// outputReadSize is the size of the buffers the output readers share: a
// captured stream is read up to this much per system call (a whole
// capturePipeSize pipe in four).
const outputReadSize = 256 << 10

// outputBufs are the output readers' buffers. A reader takes one only once
// its pipe is readable and gives it back as soon as the bytes are in the
// ring, so an idle process holds none: a server's read buffers scale with
// the streams writing at that moment, not with the processes it manages.
var outputBufs = sync.Pool{New: func() any {
	b := make([]byte, outputReadSize)
	return &b
}}
