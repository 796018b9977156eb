//go:build linux

package supervisor

import (
	"bytes"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every byte written reaches the reader, in order, whatever the write
// sizes (below, at and above the read buffer and the pipe's capacity).
func TestReadChunksWholeStream(t *testing.T) {
	ps, err := makePipes(false, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ps.closeParent()
	want := make([]byte, 5<<20+123)
	for i := range want {
		want[i] = byte(i * 7 / 3)
	}
	go func() {
		defer ps.child[1].Close()
		rest := want
		for _, n := range []int{1, 4095, outputReadSize, outputReadSize + 1, 3 << 20} {
			n = min(n, len(rest))
			if _, err := ps.child[1].Write(rest[:n]); err != nil {
				t.Error(err)
				return
			}
			rest = rest[n:]
		}
		ps.child[1].Write(rest)
	}()
	var got []byte
	readChunks(ps.parent[1], func(b []byte) { got = append(got, b...) })
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, want the %d written, in order", len(got), len(want))
	}
}

// A reader whose pipe a descendant keeps open without writing returns
// once the pipe is closed (the drain after an exit).
func TestReadChunksStopsWhenClosed(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		readChunks(r, func([]byte) {})
	}()
	time.Sleep(20 * time.Millisecond)
	r.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("readChunks still waits after its pipe was closed")
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
