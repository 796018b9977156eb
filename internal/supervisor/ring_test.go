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
			r := newRing(tc.limit, nil)
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
	r := newRing(8, nil)
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

// A ring never holds more than its limit, not even in capacity (growth by
// append would overshoot), and always keeps exactly the last limit bytes.
func TestRingNeverExceedsLimit(t *testing.T) {
	for _, limit := range []int64{1, 5, 4097, 10000, 100000} {
		r := newRing(limit, nil)
		var all []byte
		for i := range 300 {
			chunk := []byte(strings.Repeat(string(rune('a'+i%26)), 1+(i*37)%3000))
			r.write(chunk)
			all = append(all, chunk...)
			if c := r.size(); int64(c) > limit {
				t.Fatalf("limit %d: capacity %d after %d bytes", limit, c, len(all))
			}
		}
		got := r.read(0, 0, 0)
		want := all[max(0, int64(len(all))-limit):]
		if string(got.data) != string(want) || got.total != int64(len(all)) {
			t.Fatalf("limit %d: kept %d bytes (total %d), want the last %d of %d", limit, len(got.data), got.total, len(want), len(all))
		}
	}
}

// The pool caps every ring's capacity together: exited processes' rings
// are dropped oldest first to make room; with none left, a writing ring
// wraps at the size it has.
func TestOutputPoolDropsOldestExitedFirst(t *testing.T) {
	pool := newOutputPool(100 << 10)
	old, newer, live := newRing(40<<10, pool), newRing(40<<10, pool), newRing(80<<10, pool)
	old.write(make([]byte, 40<<10))
	old.close()
	newer.write(make([]byte, 40<<10))
	newer.close()
	pool.exit(old)
	pool.exit(newer)
	if u := pool.retained(); u != 80<<10 {
		t.Fatalf("retained %d, want %d", u, 80<<10)
	}
	live.write(make([]byte, 30<<10))
	if rd := old.read(0, 0, 0); len(rd.data) != 0 || rd.dropped != 40<<10 || rd.total != 40<<10 {
		t.Errorf("oldest exited ring after the cap: %d bytes retained, dropped %d, total %d", len(rd.data), rd.dropped, rd.total)
	}
	if rd := newer.read(0, 0, 0); len(rd.data) != 40<<10 {
		t.Errorf("the newer exited ring lost output (%d bytes left) while the older one could go", len(rd.data))
	}
	for range 20 {
		live.write([]byte(strings.Repeat("z", 7<<10)))
		if u := pool.retained(); u > 100<<10 {
			t.Fatalf("retained %d past the cap %d", u, 100<<10)
		}
	}
	if rd := newer.read(0, 0, 0); len(rd.data) != 0 {
		t.Errorf("second exited ring kept %d bytes while the live ring was capped", len(rd.data))
	}
	rd := live.read(0, 0, 0)
	if len(rd.data) == 0 || len(rd.data) > 80<<10 || rd.total != 30<<10+20*7<<10 ||
		strings.Trim(string(rd.data[len(rd.data)-7<<10:]), "z") != "" {
		t.Errorf("live ring: %d bytes retained of %d, want its newest bytes within its limit", len(rd.data), rd.total)
	}
	pool.forget(old, newer, live)
	if u := pool.retained(); u != 0 {
		t.Errorf("retained %d after every ring was forgotten", u)
	}
}

// An exited process's rings give back the capacity they do not use: a
// line of output no longer holds 4 KiB (minRingGrowth) for as long as the
// process is retained, and the pool counts only what is kept. What a read
// returns is unchanged.
func TestExitedRingsTrimmed(t *testing.T) {
	pool := newOutputPool(1 << 20)
	line, empty, wrapped := newRing(1<<20, pool), newRing(1<<20, pool), newRing(8<<10, pool)
	line.write([]byte("hi\n"))
	for i := range 3 {
		wrapped.write([]byte(strings.Repeat(string(rune('a'+i)), 5<<10)))
	}
	before := wrapped.read(0, 0, 0)
	if u := pool.retained(); u != minRingGrowth+8<<10 {
		t.Fatalf("retained %d before the exit, want %d", u, minRingGrowth+8<<10)
	}
	for _, r := range []*ring{line, empty, wrapped} {
		r.close()
	}
	pool.exit(line, empty, wrapped)
	if c := line.size(); c != 3 {
		t.Errorf("a ring of 3 bytes keeps %d after the exit", c)
	}
	if c := empty.size(); c != 0 {
		t.Errorf("an empty ring keeps %d after the exit", c)
	}
	if u := pool.retained(); u != 3+8<<10 {
		t.Errorf("the pool counts %d after the exit, want %d", u, 3+8<<10)
	}
	if rd := line.read(0, 0, 0); string(rd.data) != "hi\n" || rd.total != 3 || rd.dropped != 0 || !rd.closed {
		t.Errorf("after the trim: %+v", rd)
	}
	if rd := line.read(1, 0, 0); string(rd.data) != "i\n" || rd.start != 1 {
		t.Errorf("a read from an offset after the trim: %+v", rd)
	}
	if rd := wrapped.read(0, 0, 0); string(rd.data) != string(before.data) || rd.dropped != before.dropped || rd.total != before.total {
		t.Errorf("a wrapped ring changed at the exit: %d bytes from %d, want %d from %d", len(rd.data), rd.dropped, len(before.data), before.dropped)
	}
	pool.forget(line, empty, wrapped)
	if u := pool.retained(); u != 0 {
		t.Errorf("retained %d after every ring was forgotten", u)
	}
}
