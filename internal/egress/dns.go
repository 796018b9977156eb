package egress

import (
	"errors"
	"net/netip"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsTTL is the TTL of the answers given to the child, in seconds. Short, so
// that the child asks again (and the server resolves again) when the
// upstream answer changes.
const dnsTTL = 30

// maxDNSMessage bounds a query and an answer (UDP without EDNS0).
const maxDNSMessage = 512

// dnsQuery is a parsed query: the one question a resolver sends.
type dnsQuery struct {
	header   dnsmessage.Header
	question dnsmessage.Question
}

// parseDNSQuery parses a query message. A message that is not a query with
// exactly one question is an error (answered FORMERR when its header could
// be read, else dropped).
func parseDNSQuery(b []byte) (dnsQuery, bool, error) {
	var q dnsQuery
	var p dnsmessage.Parser
	h, err := p.Start(b)
	if err != nil {
		return q, false, err
	}
	q.header = h
	if h.Response {
		return q, false, errors.New("a response, not a query")
	}
	if h.OpCode != 0 {
		return q, true, errNotImplemented
	}
	qs, err := p.AllQuestions()
	if err != nil {
		return q, true, err
	}
	if len(qs) != 1 {
		return q, true, errors.New("not exactly one question")
	}
	q.question = qs[0]
	return q, true, nil
}

var errNotImplemented = errors.New("opcode not implemented")

// dnsResponse builds the answer to q: rcode, and for A/AAAA the addresses
// of the question's type among addrs.
func dnsResponse(q dnsQuery, rcode dnsmessage.RCode, addrs []netip.Addr) ([]byte, error) {
	h := dnsmessage.Header{
		ID:                 q.header.ID,
		Response:           true,
		OpCode:             q.header.OpCode,
		RecursionDesired:   q.header.RecursionDesired,
		RecursionAvailable: true,
		RCode:              rcode,
	}
	build := func(h dnsmessage.Header, withAnswers bool) ([]byte, error) {
		b := dnsmessage.NewBuilder(make([]byte, 0, maxDNSMessage), h)
		b.EnableCompression()
		if q.question.Name.Length > 0 {
			if err := b.StartQuestions(); err != nil {
				return nil, err
			}
			if err := b.Question(q.question); err != nil {
				return nil, err
			}
		}
		if withAnswers {
			if err := b.StartAnswers(); err != nil {
				return nil, err
			}
			rh := dnsmessage.ResourceHeader{Name: q.question.Name, Class: dnsmessage.ClassINET, TTL: dnsTTL}
			for _, a := range addrs {
				switch {
				case q.question.Type == dnsmessage.TypeA && a.Is4():
					rh.Type = dnsmessage.TypeA
					if err := b.AResource(rh, dnsmessage.AResource{A: a.As4()}); err != nil {
						return nil, err
					}
				case q.question.Type == dnsmessage.TypeAAAA && a.Is6() && !a.Is4In6():
					rh.Type = dnsmessage.TypeAAAA
					if err := b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: a.As16()}); err != nil {
						return nil, err
					}
				}
			}
		}
		return b.Finish()
	}
	// Answers that do not fit in 512 bytes are cut to the addresses that
	// fit, without TC: a retry over TCP would find no server (the
	// namespace's capture takes UDP/53 only), and a few addresses serve.
	for {
		out, err := build(h, true)
		if err != nil || len(out) <= maxDNSMessage || len(addrs) <= 1 {
			return out, err
		}
		addrs = addrs[:len(addrs)/2]
	}
}
