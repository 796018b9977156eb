package egress

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
)

// SOCKS5 (RFC 1928) constants used here.
const (
	socksVersion      = 5
	socksNoAuth       = 0x00
	socksNoAcceptable = 0xff
	socksCmdConnect   = 1

	socksAtypIPv4   = 1
	socksAtypDomain = 3
	socksAtypIPv6   = 4

	socksSucceeded        = 0x00
	socksGeneralFailure   = 0x01
	socksNotAllowed       = 0x02
	socksHostUnreachable  = 0x04
	socksConnRefused      = 0x05
	socksCmdNotSupported  = 0x07
	socksAtypNotSupported = 0x08
)

// socksRequest is a parsed SOCKS5 request. Exactly one of name and ip is
// set (a domain that is an address literal is returned as ip).
type socksRequest struct {
	cmd  byte
	name string
	ip   netip.Addr
	port uint16
}

// socksError carries the reply code to send for a bad request.
type socksError struct {
	code byte
	msg  string
}

func (e *socksError) Error() string { return e.msg }

// readSOCKSGreeting reads the version/methods message and reports whether
// "no authentication" is offered.
func readSOCKSGreeting(r io.Reader) (noAuth bool, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, err
	}
	if h[0] != socksVersion {
		return false, fmt.Errorf("not SOCKS5 (version %d)", h[0])
	}
	if h[1] == 0 {
		return false, errors.New("SOCKS5 greeting offers no method")
	}
	methods := make([]byte, h[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return false, err
	}
	for _, m := range methods {
		if m == socksNoAuth {
			return true, nil
		}
	}
	return false, nil
}

// readSOCKSRequest reads one request. An error of type *socksError has a
// reply code to send; other errors are I/O errors.
func readSOCKSRequest(r io.Reader) (socksRequest, error) {
	var req socksRequest
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return req, err
	}
	if h[0] != socksVersion {
		return req, &socksError{socksGeneralFailure, fmt.Sprintf("not SOCKS5 (version %d)", h[0])}
	}
	req.cmd = h[1]
	switch h[3] {
	case socksAtypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, err
		}
		req.ip = netip.AddrFrom4(a)
	case socksAtypIPv6:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, err
		}
		req.ip = netip.AddrFrom16(a).Unmap()
	case socksAtypDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return req, err
		}
		name := make([]byte, n[0])
		if _, err := io.ReadFull(r, name); err != nil {
			return req, err
		}
		if a, err := netip.ParseAddr(string(name)); err == nil {
			req.ip = a.Unmap()
		} else {
			req.name = string(name)
		}
	default:
		return req, &socksError{socksAtypNotSupported, fmt.Sprintf("address type %d not supported", h[3])}
	}
	var p [2]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return req, err
	}
	req.port = uint16(p[0])<<8 | uint16(p[1])
	if req.cmd != socksCmdConnect {
		return req, &socksError{socksCmdNotSupported, fmt.Sprintf("command %d not supported (only CONNECT)", req.cmd)}
	}
	if req.name == "" && !req.ip.IsValid() {
		return req, &socksError{socksGeneralFailure, "empty destination"}
	}
	if req.port == 0 {
		return req, &socksError{socksGeneralFailure, "port 0"}
	}
	return req, nil
}

// socksReply is a reply with an all-zero bound address: the server's own
// addresses are not the child's business.
func socksReply(code byte) []byte {
	return []byte{socksVersion, code, 0, socksAtypIPv4, 0, 0, 0, 0, 0, 0}
}
