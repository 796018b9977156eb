package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestLineFeed(t *testing.T) {
	t0 := time.Unix(1000, 0)
	r := newRing(1<<20, nil)
	f := &lineFeed{r: r}
	step := func(write string, at time.Duration, want string, wantSkipped int64) {
		t.Helper()
		if write != "" {
			r.write([]byte(write))
		}
		got, skipped := f.next(t0.Add(at))
		if string(got) != want || skipped != wantSkipped {
			t.Fatalf("after %q at %v: got %q skipped %d, want %q skipped %d", write, at, got, skipped, want, wantSkipped)
		}
	}
	step("", 0, "", 0)
	step("one\ntw", 0, "one\n", 0)                   // the partial line is held back
	step("o\nthr", 100*time.Millisecond, "two\n", 0) // completed later
	step("", 500*time.Millisecond, "", 0)
	step("", 1100*time.Millisecond, "thr", 0) // a prompt without newline goes out after progressPartialAfter
	step("ee\n", 1200*time.Millisecond, "ee\n", 0)
	step("caf\xc3", 1300*time.Millisecond, "", 0)
	step("", 2400*time.Millisecond, "caf", 0) // never a split rune
	step("\xa9\n", 2500*time.Millisecond, "\xc3\xa9\n", 0)
	// A burst larger than progressMaxBytes: its last whole lines, the rest skipped.
	burst := strings.Repeat("0123456789abcde\n", 2*progressMaxBytes/16)
	f2 := &lineFeed{r: newRing(1<<20, nil)}
	f2.r.write([]byte(burst))
	got, skipped := f2.next(t0)
	if len(got) != progressMaxBytes || int(skipped) != len(burst)-progressMaxBytes || !strings.HasPrefix(string(got), "0123") {
		t.Fatalf("burst: %d bytes, skipped %d", len(got), skipped)
	}
	// Bytes the ring dropped before they were sent count as skipped.
	f3 := &lineFeed{r: newRing(8, nil)}
	f3.r.write([]byte("aaaa\nbbbbb\ncc\n"))
	if got, skipped := f3.next(t0); string(got) != "bbbb\ncc\n" || skipped != 6 {
		t.Fatalf("dropped: %q skipped %d", got, skipped)
	}
}

func TestUTF8Cuts(t *testing.T) {
	for _, tc := range []struct {
		in         string
		tail, head int
	}{
		{"abc", 0, 0},
		{"ab\xc3", 1, 0},
		{"\xa9bc", 0, 1},
		{"\xe2\x82", 2, 0},
		{"\x82\xacx", 0, 2},
		{"x\xe2\x82\xac", 0, 0},
		{"\x80\x80\x80\x80", 0, 0}, // not text
	} {
		if got := incompleteRuneTail([]byte(tc.in)); got != tc.tail {
			t.Errorf("incompleteRuneTail(%q) = %d, want %d", tc.in, got, tc.tail)
		}
		if got := continuationHead([]byte(tc.in)); got != tc.head {
			t.Errorf("continuationHead(%q) = %d, want %d", tc.in, got, tc.head)
		}
	}
}
