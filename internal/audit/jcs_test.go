package audit

import (
	"math"
	"testing"
)

func TestCanonicalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{
			name: "RFC 8785 3.2.3 sorting by UTF-16 code units (non-ASCII keys, surrogate pairs)",
			in: `{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh",` +
				`"1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}`,
			want: "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"\u00f6\":\"Latin Small Letter O With Diaeresis\"," +
				"\"\u20ac\":\"Euro Sign\",\"\U0001F600\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{
			name: "RFC 8785 3.2.2 example (numbers, escapes, literals, whitespace)",
			in: `{ "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false] }`,
			want: `{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],` +
				"\"string\":\"\u20ac$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}",
		},
		{
			name: "control characters: short forms and lowercase \\u00xx; no HTML escaping",
			in:   `{"s":"\b\t\n\f\r\u0001\u001f\u007f<>&\u2028"}`,
			want: "{\"s\":\"\\b\\t\\n\\f\\r\\u0001\\u001f\u007f<>&\u2028\"}",
		},
		{
			name: "integers are exact, -0 is 0, nesting sorted",
			in:   `{"z":[0,-0,1,-1,9007199254740992,123456789012],"a":{"y":1,"b":2},"seq":42}`,
			want: `{"a":{"b":2,"y":1},"seq":42,"z":[0,0,1,-1,9007199254740992,123456789012]}`,
		},
		{
			name: "empty containers",
			in:   `{"b":[],"a":{}}`,
			want: `{"a":{},"b":[]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonicalize([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Canonicalize:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestCanonicalizeRejectsTrailingData(t *testing.T) {
	if _, err := Canonicalize([]byte(`{"a":1} {"b":2}`)); err == nil {
		t.Fatal("two JSON values accepted")
	}
}

// ES6 Number.prototype.toString vectors (RFC 8785 appendix B).
func TestFormatES6(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{5e-324, "5e-324"},
		{-5e-324, "-5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{-1.7976931348623157e308, "-1.7976931348623157e+308"},
		{9007199254740992, "9007199254740992"},
		{-9007199254740992, "-9007199254740992"},
		{295147905179352830000, "295147905179352830000"},
		{9.999999999999997e22, "9.999999999999997e+22"},
		{1e23, "1e+23"},
		{1e21, "1e+21"},
		{999999999999999900000, "999999999999999900000"},
		{0.000001, "0.000001"},
		{1e-7, "1e-7"},
		{4.5, "4.5"},
		{0.002, "0.002"},
		{333333333.3333333, "333333333.3333333"},
		{-1.5e-9, "-1.5e-9"},
	}
	for _, tt := range tests {
		got, err := formatES6(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("formatES6(%v) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if _, err := formatES6(bad); err == nil {
			t.Errorf("formatES6(%v) accepted", bad)
		}
	}
}
