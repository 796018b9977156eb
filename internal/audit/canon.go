package audit

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// appendCanonicalRecord writes the RFC 8785 form of r without its "hash"
// member: byte for byte what writeCanonical writes for recordObject(r)
// (r encoded by encoding/json, decoded generically, hash removed), built
// from r's fields directly instead of through an encoding, a decoding and
// a generic walk, which were most of the server's work for a record.
// Strings are written by writeCanonicalString either way (encoding/json
// turns each invalid UTF-8 byte into U+FFFD on the way, and so does it);
// integers by canonicalNumber. It reports false, having written nothing,
// for a record only the generic path renders exactly: a map key that is not
// valid UTF-8 (two such keys can decode to one member). The equivalence is
// tested on every field of Record (TestCanonicalRecordMatchesGeneric), so
// a field added to Record without being added here fails that test.
func appendCanonicalRecord(b *bytes.Buffer, r *Record) bool {
	for k := range r.Codes {
		if !utf8.ValidString(k) {
			return false
		}
	}
	var o canonObject
	o.str("time", r.Time)
	o.uint("seq", r.Seq)
	o.str("level", r.Level)
	o.str("event", r.Event)
	o.optStr("agent", r.Agent)
	o.optStr("tool", r.Tool)
	o.optInt("pid", int64(r.PID))
	o.optStr("executable", r.Executable)
	o.optStrs("args", r.Args)
	o.optStr("cwd", r.Cwd)
	o.optStrs("envNames", r.EnvNames)
	o.optStr("decision", r.Decision)
	o.optStr("layer", r.Layer)
	o.optStr("reason", r.Reason)
	o.optStr("code", r.Code)
	if r.ExitCode != nil {
		o.int("exitCode", int64(*r.ExitCode))
	}
	o.optStr("signal", r.Signal)
	o.optStr("terminationReason", r.TerminationReason)
	o.optInt("bytes", int64(r.Bytes))
	o.optStr("groupId", r.GroupID)
	o.optStr("serviceId", r.ServiceID)
	o.optStr("channel", r.Channel)
	o.optInt("count", int64(r.Count))
	if len(r.Codes) > 0 {
		o.key("codes")
		var m canonObject
		for k, v := range r.Codes {
			m.int(k, int64(v))
		}
		m.writeTo(&o.buf)
	}
	if r.First != nil {
		o.key("first")
		r.First.canonical().writeTo(&o.buf)
	}
	if r.Last != nil {
		o.key("last")
		r.Last.canonical().writeTo(&o.buf)
	}
	if r.Network != nil {
		o.key("network")
		r.Network.canonical().writeTo(&o.buf)
	}
	o.optInt("every", int64(r.Every))
	o.optStr("signatureAlg", r.SignatureAlg)
	o.optStr("signature", r.Signature)
	o.str("prevHash", r.PrevHash)
	o.writeTo(b)
	return true
}

func (d *DenialRef) canonical() *canonObject {
	var o canonObject
	o.str("time", d.Time)
	o.str("event", d.Event)
	o.optStr("tool", d.Tool)
	o.optStr("code", d.Code)
	o.optStr("layer", d.Layer)
	o.optStr("executable", d.Executable)
	o.optInt("pid", int64(d.PID))
	return &o
}

func (n *NetworkRef) canonical() *canonObject {
	var o canonObject
	o.str("via", n.Via)
	o.optStr("destination", n.Destination)
	o.optStr("ip", n.IP)
	o.optInt("port", int64(n.Port))
	o.optStr("rule", n.Rule)
	if n.BytesOut != nil {
		o.int("bytesOut", *n.BytesOut)
	}
	if n.BytesIn != nil {
		o.int("bytesIn", *n.BytesIn)
	}
	return &o
}

// compareNames is compareUTF16, without its conversions for ASCII names
// (whose byte order is their UTF-16 order).
func compareNames(a, b string) int {
	if isASCII(a) && isASCII(b) {
		return strings.Compare(a, b)
	}
	return compareUTF16(a, b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// canonObject collects an object's members (each value already in
// canonical form in buf) and writes them sorted by name. Member names are
// the struct's JSON names (ASCII, so byte order is UTF-16 order) or, for a
// map, keys that are valid UTF-8 (so no two are one member).
type canonObject struct {
	buf     bytes.Buffer
	members []canonMember
}

type canonMember struct {
	name       string
	start, end int
}

// key starts member name; the caller writes its value into o.buf.
func (o *canonObject) key(name string) {
	if n := len(o.members); n > 0 {
		o.members[n-1].end = o.buf.Len()
	}
	o.members = append(o.members, canonMember{name: name, start: o.buf.Len()})
}

func (o *canonObject) str(name, v string) {
	o.key(name)
	writeCanonicalString(&o.buf, v)
}

func (o *canonObject) optStr(name, v string) {
	if v != "" {
		o.str(name, v)
	}
}

func (o *canonObject) optStrs(name string, v []string) {
	if len(v) == 0 {
		return
	}
	o.key(name)
	o.buf.WriteByte('[')
	for i, s := range v {
		if i > 0 {
			o.buf.WriteByte(',')
		}
		writeCanonicalString(&o.buf, s)
	}
	o.buf.WriteByte(']')
}

// int writes an integer as canonicalNumber renders its decimal text (beyond
// 2^53 that is the nearest double's ECMAScript form, as for the generic
// path's json.Number).
func (o *canonObject) int(name string, v int64) {
	o.key(name)
	o.number(strconv.FormatInt(v, 10))
}

func (o *canonObject) uint(name string, v uint64) {
	o.key(name)
	o.number(strconv.FormatUint(v, 10))
}

func (o *canonObject) optInt(name string, v int64) {
	if v != 0 {
		o.int(name, v)
	}
}

func (o *canonObject) number(text string) {
	if len(text) < 16 { // |v| < 10^15 < 2^53: exact, written as given
		o.buf.WriteString(text)
		return
	}
	s, err := canonicalNumber(text)
	if err != nil { // cannot happen: text is an integer's decimal form
		s = text
	}
	o.buf.WriteString(s)
}

func (o *canonObject) writeTo(b *bytes.Buffer) {
	if n := len(o.members); n > 0 {
		o.members[n-1].end = o.buf.Len()
	}
	slices.SortFunc(o.members, func(x, y canonMember) int { return compareNames(x.name, y.name) })
	raw := o.buf.Bytes()
	b.WriteByte('{')
	for i, m := range o.members {
		if i > 0 {
			b.WriteByte(',')
		}
		writeCanonicalString(b, m.name)
		b.WriteByte(':')
		b.Write(raw[m.start:m.end])
	}
	b.WriteByte('}')
}
