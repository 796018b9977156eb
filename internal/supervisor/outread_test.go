//go:build linux

package supervisor

import (
	"bytes"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every byte written reaches the ring, in order, whatever the write sizes
// (below, at and above the read buffer and the pipe's capacity), and the
// ring ends as the same bytes written to it in one piece leave it: a ring
// that keeps it all, and rings that wrap (read into in place once grown)
// or are refused room by the pool.
func TestReadOutputWholeStream(t *testing.T) {
	want := make([]byte, 3<<20+123)
	for i := range want {
		want[i] = byte(i * 7 / 3)
	}
	for _, c := range []struct {
		name        string
		limit, pool int64
	}{
		{"kept whole", 8 << 20, 1 << 30},
		{"wrapped", 1<<20 + 17, 1 << 30},
		{"pool refuses", 8 << 20, 100 << 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := makePipes(false, true)
			if err != nil {
				t.Fatal(err)
			}
			defer ps.closeParent()
			go func() {
				defer ps.child[1].Close()
				rest := want
				for _, n := range []int{1, 4095, outputReadSize, outputReadSize + 1, 1 << 20} {
					n = min(n, len(rest))
					if _, err := ps.child[1].Write(rest[:n]); err != nil {
						t.Error(err)
						return
					}
					rest = rest[n:]
				}
				ps.child[1].Write(rest)
			}()
			r := newRing(c.limit, newOutputPool(c.pool))
			chunks := 0
			readOutput(ps.parent[1], r, func() { chunks++ })
			ref := newRing(c.limit, newOutputPool(c.pool))
			ref.write(want)
			got, exp := r.read(0, 0, 0), ref.read(0, 0, 0)
			if got.total != int64(len(want)) || got.start != exp.start || !bytes.Equal(got.data, exp.data) {
				t.Fatalf("ring holds %d bytes from %d of %d written, want %d from %d", len(got.data), got.start, got.total, len(exp.data), exp.start)
			}
			if chunks == 0 {
				t.Fatal("onData never called")
			}
		})
	}
}

// Without a ring (a terminal's output without capture) the bytes are
// read and discarded until the end.
func TestReadOutputDiscards(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		w.Write(make([]byte, 2<<20))
		w.Close()
	}()
	readOutput(r, nil, func() { t.Error("onData called without a ring") })
}

// A reader whose pipe a descendant keeps open without writing returns
// once the pipe is closed (the drain after an exit).
func TestReadOutputStopsWhenClosed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readOutput(r, newRing(1<<20, nil), func() {})
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("readOutput still waits after its pipe was closed")
	}
}

// A capture pipe has capturePipeSize when the server is exempt from the
// per-user pipe limits, and the kernel's default otherwise.
func TestCapturePipeSize(t *testing.T) {
	ps, err := makePipes(false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.closeParent()
	defer ps.closeChild()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	size := func(f *os.File) int {
		n, err := unix.FcntlInt(f.Fd(), unix.F_GETPIPE_SZ, 0)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := size(r)
	if pipeLimitExempt() {
		want = capturePipeSize
	}
	for i, f := range []*os.File{ps.parent[1], ps.parent[2]} {
		if got := size(f); got != want {
			t.Errorf("capture pipe %d: %d bytes, want %d (exempt from pipe limits: %v)", i+1, got, want, pipeLimitExempt())
		}
	}
}
