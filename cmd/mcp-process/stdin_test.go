package main

import "testing"

func TestIncompleteTail(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{
		{"", 0}, {"abc", 0}, {"é", 0}, {"a\xc3", 1}, {"a\xe2\x82", 2}, {"a\xe2\x82\xac", 0},
		{"\xf0\x9f\x98", 3}, {"\xf0\x9f\x98\x80", 0}, {"a\x80", 0}, // a stray continuation byte is not held: it is binary
	} {
		if got := incompleteTail([]byte(tc.in)); got != tc.want {
			t.Errorf("incompleteTail(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
