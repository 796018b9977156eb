package supervisor

import (
	"strings"
	"testing"
)

func TestRing(t *testing.T) {
	tests := []struct {
		name        string
		limit       int64
		writes      []string
		off         int64
		max, tail   int
		want        string
		wantStart   int64
		wantDropped int64
		wantTotal   int64
	}{
		{"all retained", 10, []string{"abc", "def"}, 0, 0, 0, "abcdef", 0, 0, 6},
		{"offset inside", 10, []string{"abc", "def"}, 2, 0, 0, "cdef", 2, 0, 6},
		{"max bytes", 10, []string{"abcdef"}, 1, 3, 0, "bcd", 1, 0, 6},
		{"wrapped keeps the last bytes", 4, []string{"abc", "def"}, 0, 0, 0, "cdef", 2, 2, 6},
		{"offset in dropped region starts at oldest", 4, []string{"abcdefghij"}, 1, 0, 0, "ghij", 6, 6, 10},
		{"offset past the end", 4, []string{"ab"}, 9, 0, 0, "", 2, 0, 2},
		{"many small wraps", 5, strings.Split("0123456789abcdef", ""), 0, 0, 0, "bcdef", 11, 11, 16},
		{"wrapped read across the seam", 5, []string{"0123", "456"}, 3, 0, 0, "3456", 3, 2, 7},
		{"tail", 10, []string{"hello world"}, 0, 0, 3, "rld", 8, 1, 11},
		{"tail beyond retained", 4, []string{"hello world"}, 0, 0, 100, "orld", 7, 7, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(tc.limit)
			for _, w := range tc.writes {
				r.write([]byte(w))
			}
			got := r.read(tc.off, tc.max, tc.tail)
			if string(got.data) != tc.want || got.start != tc.wantStart || got.dropped != tc.wantDropped || got.total != tc.wantTotal {
				t.Fatalf("got %q start %d dropped %d total %d; want %q %d %d %d",
					got.data, got.start, got.dropped, got.total, tc.want, tc.wantStart, tc.wantDropped, tc.wantTotal)
			}
			if got.next != got.start+int64(len(got.data)) {
				t.Fatalf("next %d", got.next)
			}
		})
	}
}

func TestRingNotify(t *testing.T) {
	r := newRing(8)
	ch := r.changed()
	r.write([]byte("x"))
	select {
	case <-ch:
	default:
		t.Fatal("write did not notify")
	}
	ch = r.changed()
	r.close()
	select {
	case <-ch:
	default:
		t.Fatal("close did not notify")
	}
	if r.changed() != nil {
		t.Fatal("closed ring still offers a channel")
	}
}
