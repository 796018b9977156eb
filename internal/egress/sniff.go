package egress

import (
	"bytes"
	"errors"
	"net/netip"
	"strings"
)

// Limits of the transparent path's look at a connection's first bytes.
const (
	// maxPeek bounds the bytes read before deciding (a ClientHello with a
	// post-quantum key share is about 2 KiB; an HTTP request head rarely
	// passes 8 KiB).
	maxPeek = 16 << 10
)

var errNeedMore = errors.New("need more bytes")

// sniffKind is what the first bytes of a connection look like.
type sniffKind uint8

const (
	sniffOther sniffKind = iota // neither TLS nor HTTP: decide by address
	sniffTLS
	sniffHTTP
)

// sniff looks at the first bytes of a client's stream. It returns
// errNeedMore while b is a prefix of something it could still recognise;
// then the caller reads more (up to maxPeek). name is "" when the protocol
// carries no name (a ClientHello without SNI) or it is not a hostname.
func sniff(b []byte) (kind sniffKind, name string, err error) {
	if len(b) == 0 {
		return sniffOther, "", errNeedMore
	}
	if b[0] == 0x16 {
		name, err := parseClientHelloSNI(b)
		return sniffTLS, name, err
	}
	if looksLikeHTTP(b) {
		name, err := parseHTTPHost(b)
		return sniffHTTP, name, err
	}
	return sniffOther, "", nil
}

// looksLikeHTTP reports whether b starts like an HTTP/1 request line: an
// upper-case token followed by a space (or a prefix of one).
func looksLikeHTTP(b []byte) bool {
	for i, c := range b {
		if c == ' ' {
			return i > 0
		}
		if c < 'A' || c > 'Z' || i >= 16 {
			return false
		}
	}
	return true // a prefix of a method
}

// parseClientHelloSNI extracts the server_name from a TLS ClientHello that
// may span several handshake records.
func parseClientHelloSNI(b []byte) (string, error) {
	// Reassemble the handshake message from records.
	var hs []byte
	for {
		if len(b) < 5 {
			return "", errNeedMore
		}
		if b[0] != 0x16 {
			return "", errors.New("not a TLS handshake record")
		}
		if b[1] != 3 {
			return "", errors.New("not a TLS record version")
		}
		n := int(b[3])<<8 | int(b[4])
		if n == 0 || n > 1<<14+2048 {
			return "", errors.New("bad TLS record length")
		}
		if len(b) < 5+n {
			hs = append(hs, b[5:]...)
			if len(hs) >= 4 && hs[0] != 1 {
				return "", errors.New("first handshake message is not a ClientHello")
			}
			return "", errNeedMore
		}
		hs = append(hs, b[5:5+n]...)
		b = b[5+n:]
		if len(hs) >= 4 {
			if hs[0] != 1 {
				return "", errors.New("first handshake message is not a ClientHello")
			}
			m := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if m > maxPeek {
				return "", errors.New("ClientHello too large")
			}
			if len(hs) >= 4+m {
				return clientHelloSNI(hs[4 : 4+m])
			}
		}
	}
}

// clientHelloSNI reads the server_name extension of a ClientHello body.
func clientHelloSNI(m []byte) (string, error) {
	r := reader{b: m}
	r.skip(2 + 32) // version, random
	r.skip(int(r.u8()))
	r.skip(int(r.u16()))
	r.skip(int(r.u8()))
	if r.bad {
		return "", errors.New("truncated ClientHello")
	}
	if r.len() == 0 {
		return "", nil // no extensions
	}
	ext := reader{b: r.bytes(int(r.u16()))}
	if r.bad {
		return "", errors.New("truncated ClientHello extensions")
	}
	for ext.len() > 0 {
		typ := ext.u16()
		data := reader{b: ext.bytes(int(ext.u16()))}
		if ext.bad {
			return "", errors.New("truncated ClientHello extension")
		}
		if typ != 0 {
			continue
		}
		list := reader{b: data.bytes(int(data.u16()))}
		for list.len() > 0 {
			nt := list.u8()
			name := list.bytes(int(list.u16()))
			if list.bad {
				return "", errors.New("truncated server_name")
			}
			if nt == 0 {
				return hostnameOrEmpty(string(name)), nil
			}
		}
		if data.bad {
			return "", errors.New("truncated server_name")
		}
		return "", nil
	}
	return "", nil
}

// hostnameOrEmpty returns s when it is a hostname (not an address, which
// SNI must not carry and which decides nothing here), else "".
func hostnameOrEmpty(s string) string {
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if _, ok := CanonicalName(s); !ok {
		return ""
	}
	return s
}

// parseHTTPHost returns the host (without port) of an HTTP/1 request head:
// the Host header, or the authority of an absolute-form target. The head
// must be complete (ends with an empty line) within maxPeek.
func parseHTTPHost(b []byte) (string, error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) >= maxPeek {
			return "", errors.New("HTTP request head too large")
		}
		return "", errNeedMore
	}
	lines := strings.Split(string(b[:end]), "\r\n")
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || !strings.HasPrefix(parts[2], "HTTP/1.") {
		return "", errors.New("not an HTTP/1 request line")
	}
	host := ""
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), "host") {
			if host != "" {
				return "", errors.New("more than one Host header")
			}
			host = strings.TrimSpace(v)
			if host == "" {
				return "", errors.New("empty Host header")
			}
		}
	}
	if host == "" {
		if i := strings.Index(parts[1], "://"); i > 0 {
			host = parts[1][i+3:]
			if j := strings.IndexAny(host, "/?#"); j >= 0 {
				host = host[:j]
			}
		}
	}
	return hostnameOrEmpty(stripPort(host)), nil
}

// stripPort removes an optional :port and IPv6 brackets from an authority.
func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if strings.Count(h, ":") == 1 {
		return h[:strings.IndexByte(h, ':')]
	}
	return h
}

// reader is a bounds-checked big-endian byte reader; a short read sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) len() int { return len(r.b) }

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad = true
		r.b = nil
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) skip(n int) { r.bytes(n) }

func (r *reader) u8() uint8 {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.bytes(2)
	if b == nil {
		return 0
	}
	return uint16(b[0])<<8 | uint16(b[1])
}
