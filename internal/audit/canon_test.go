package audit

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// genericCanonical is the canonical form the chain hash was always
// computed over: r encoded, decoded generically, "hash" removed.
func genericCanonical(t testing.TB, r *Record) string {
	t.Helper()
	obj, err := recordObject(r)
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "hash")
	var b bytes.Buffer
	if err := writeCanonical(&b, obj); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func directCanonical(t testing.TB, r *Record) (string, bool) {
	t.Helper()
	var b bytes.Buffer
	ok := appendCanonicalRecord(&b, r)
	return b.String(), ok
}

// fill sets every exported field reachable from v (pointers allocated,
// slices and maps given entries) to a value derived from gen.
func fill(v reflect.Value, gen func(kind reflect.Kind) any) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), gen)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), gen)
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		fill(s.Index(0), gen)
		fill(s.Index(1), gen)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		for range 3 {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, gen)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, gen)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.String:
		v.SetString(gen(reflect.String).(string))
	case reflect.Int, reflect.Int64:
		v.SetInt(gen(reflect.Int64).(int64))
	case reflect.Uint64:
		v.SetUint(gen(reflect.Uint64).(uint64))
	default:
		panic("fill: unhandled kind " + v.Kind().String() + ": add it here and to appendCanonicalRecord")
	}
}

var tricky = []string{"", "a", "é", "日本", "😀", "\U0010FFFF", "\uE000", "\uFFFD", "a\xffb", "\xc3", "\xed\xa0\x80",
	"\x00\x01\x1f\x7f", "\"\\/", "\b\f\n\r\t", "<>&", "\u2028\u2029", "Z", "z", "_", "~", "key with space"}

var trickyInts = []int64{0, 1, -1, 42, 1 << 31, -(1 << 31), 1e15 - 1, 1e15, 1 << 53, 1<<53 + 1, -(1<<53 + 1),
	math.MaxInt64, math.MinInt64, 123456789012345678}

// TestCanonicalRecordMatchesGeneric: the hash of every record is computed
// over the same bytes as before the direct encoder, for every field of
// Record set (a field added to Record and not to appendCanonicalRecord
// fails here) and for random records of awkward strings and integers.
func TestCanonicalRecordMatchesGeneric(t *testing.T) {
	n := 0
	var all Record
	fill(reflect.ValueOf(&all).Elem(), func(k reflect.Kind) any {
		n++
		switch k {
		case reflect.String:
			return "s" + strings.Repeat("x", n)
		case reflect.Uint64:
			return uint64(n)
		}
		return int64(n)
	})
	got, ok := directCanonical(t, &all)
	want := genericCanonical(t, &all)
	if !ok || got != want {
		t.Fatalf("every field set:\ndirect  %s (ok %v)\ngeneric %s", got, ok, want)
	}
	// Every member name of the full record is in the output (none dropped by both).
	typ := reflect.TypeFor[Record]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
		if name != "hash" && !strings.Contains(got, `"`+name+`":`) {
			t.Errorf("member %q missing from %s", name, got)
		}
	}

	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		var r Record
		fill(reflect.ValueOf(&r).Elem(), func(k reflect.Kind) any {
			switch k {
			case reflect.String:
				if rng.IntN(3) == 0 {
					return ""
				}
				return tricky[rng.IntN(len(tricky))] + tricky[rng.IntN(len(tricky))]
			case reflect.Uint64:
				return uint64(trickyInts[rng.IntN(len(trickyInts))])
			}
			return trickyInts[rng.IntN(len(trickyInts))]
		})
		// Leave some optional parts out, as real records do.
		if rng.IntN(2) == 0 {
			r.First, r.Last, r.Network, r.Codes = nil, nil, nil, nil
		}
		if rng.IntN(2) == 0 {
			r.ExitCode, r.Args = nil, nil
		}
		if rng.IntN(4) == 0 {
			r.Codes = map[string]int{}
			r.Args = []string{}
		}
		got, ok := directCanonical(t, &r)
		want := genericCanonical(t, &r)
		if !ok {
			for k := range r.Codes {
				if !isValidUTF8(k) {
					ok = true // the generic path is used: nothing to compare
				}
			}
			if !ok {
				t.Fatalf("record %d: direct encoder declined a record with valid keys", i)
			}
			continue
		}
		if got != want {
			t.Fatalf("record %d:\ndirect  %s\ngeneric %s", i, got, want)
		}
	}
}

func isValidUTF8(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// TestSealRecordInvalidKeyUsesGenericPath: a codes key that is not valid
// UTF-8 takes the generic path, and the hash is the generic one.
func TestSealRecordInvalidKeyUsesGenericPath(t *testing.T) {
	r := Record{Time: "t", Level: LevelInfo, Event: EventDenialsSummarized, PrevHash: GenesisHash,
		Codes: map[string]int{"a\xff": 1, "a\xfe": 2}}
	if _, ok := directCanonical(t, &r); ok {
		t.Fatal("direct encoder took a map key that is not valid UTF-8")
	}
	if err := sealRecord(&r); err != nil {
		t.Fatal(err)
	}
	obj, err := recordObject(&r)
	if err != nil {
		t.Fatal(err)
	}
	want, err := chainHash(r.PrevHash, obj)
	if err != nil {
		t.Fatal(err)
	}
	if r.Hash != want {
		t.Fatalf("hash %s, generic %s", r.Hash, want)
	}
}

// BenchmarkSealRecord: a process_run exit record's hash, the direct way
// (sealRecord) and the generic way it was computed before.
func BenchmarkSealRecord(b *testing.B) {
	code := 0
	r := Record{Time: "2026-12-03T13:00:00.123456789Z", Seq: 12345, Level: LevelInfo, Event: EventExit, Agent: "local",
		Tool: "process_run", PID: 123456, Executable: "/usr/bin/echo", Args: []string{"hi"}, Cwd: "/work/x",
		ExitCode: &code, TerminationReason: "exited", PrevHash: strings.Repeat("ab", 32)}
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := sealRecord(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("generic", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r.Hash = ""
			obj, err := recordObject(&r)
			if err != nil {
				b.Fatal(err)
			}
			if r.Hash, err = chainHash(r.PrevHash, obj); err != nil {
				b.Fatal(err)
			}
		}
	})
}
