package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Pre-encoded answers (stdio only). The SDK encodes a tool's result in
// passes that each scan what the one before wrote: CallToolResult's
// MarshalJSON escapes the text block again (TextContent's MarshalJSON) and
// encodes structuredContent again, encoding/json compacts the text block,
// then the whole result once more (marshalToRaw). For a result carrying
// 64 KiB of output (~156 KB of JSON) these passes were most of the
// server's answer. A result whose text is its structuredContent's JSON
// (outputWire, runWire: encodedAsText) is written by us instead, in one
// escape of the text and a copy:
//
//   - preEncode, the outermost receiving middleware, wraps such a
//     result of a session served by ServeStdio (its context carries the
//     session's answers) in a preEncoded; every middleware and the SDK
//     see the result itself (preEncoded embeds it).
//   - When the SDK encodes the answer (jsonrpc2's NewResponse, right
//     before it writes it), preEncoded's MarshalJSON encodes the result
//     itself, keeps the bytes in the session's answers under a random
//     token (128 bits from crypto/rand, never sent) and gives the SDK a
//     stand-in, {"mcp-process/answer":"TOKEN"}, to encode.
//   - The session's Write (stdioConn) replaces a result that is exactly a
//     stand-in whose token it holds by the bytes kept, and forgets them.
//
// Process output cannot forge or alter a substitution: only a result
// that is, byte for byte, a stand-in with a live token is replaced, and
// output only ever appears inside a larger result. A stand-in's bytes
// live from the encoding to the write of the same answer (the SDK writes
// every answer it encodes, a cancelled request's too); a write that
// never happens is a connection closing, whose Close drops them. Any
// other transport (in memory, HTTP) has no answers in its context and
// gets the SDK's encoding of the result; so does a result not of the
// expected shape. What the SDK adds to a result besides its content
// (resultType for a session of the 2026-07-28 protocol, _meta with
// serverInfo for a 2026-07-28 request: the Go SDK client's) is taken from
// the SDK's own encoding of the result without its content (frame). The
// bytes are the SDK's in every case (TestPreEncodedSameBytes).

// answersKey is the context key of a stdio session's *answers.
type answersKey struct{}

// answers are one stdio session's encoded results waiting for their write.
type answers struct {
	mu      sync.Mutex
	pending map[string][]byte // token -> the result's JSON
	written int               // results replaced (tests)
}

// The stand-in is standInPrefix, a token of tokenLen characters, standInSuffix.
const (
	standInPrefix = `{"mcp-process/answer":"`
	standInSuffix = `"}`
	tokenLen      = 26 // rand.Text: 128 bits in base32
)

// put keeps result and returns its stand-in, nil once a is closed.
func (a *answers) put(result []byte) []byte {
	token := rand.Text()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.pending == nil {
		return nil
	}
	a.pending[token] = result
	return []byte(standInPrefix + token + standInSuffix)
}

// take returns the result kept for a result that is exactly a stand-in
// with a live token, and forgets it.
func (a *answers) take(result []byte) ([]byte, bool) {
	if len(result) != len(standInPrefix)+tokenLen+len(standInSuffix) ||
		!bytes.HasPrefix(result, []byte(standInPrefix)) || !bytes.HasSuffix(result, []byte(standInSuffix)) {
		return nil, false
	}
	token := string(result[len(standInPrefix) : len(standInPrefix)+tokenLen])
	a.mu.Lock()
	defer a.mu.Unlock()
	b, ok := a.pending[token]
	if ok {
		delete(a.pending, token)
		a.written++
	}
	return b, ok
}

// resolve is msg with a stand-in result replaced by its result.
func (a *answers) resolve(msg jsonrpc.Message) jsonrpc.Message {
	r, ok := msg.(*jsonrpc.Response)
	if !ok || r.Error != nil {
		return msg
	}
	if b, ok := a.take(r.Result); ok {
		resolved := *r
		resolved.Result = b
		return &resolved
	}
	return msg
}

// close drops what is kept: the connection writes nothing more.
func (a *answers) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.pending = nil
}

// size is the number of results kept, and of those replaced (tests).
func (a *answers) size() (kept, written int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending), a.written
}

func newAnswers() *answers { return &answers{pending: map[string][]byte{}} }

// encodedAsText is a structuredContent whose JSON is the result's text
// content (successResult makes both from one json.Marshal).
type encodedAsText interface{ encodedAsText() }

// preEncode wraps, on a stdio session, a tools/call result that
// preEncoded can encode itself.
func preEncode(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if err != nil || method != "tools/call" {
			return res, err
		}
		a, _ := ctx.Value(answersKey{}).(*answers)
		r, _ := res.(*mcp.CallToolResult)
		if a == nil || r == nil || textOnly(r) == nil {
			return res, err
		}
		return &preEncoded{CallToolResult: r, answers: a}, nil
	}
}

// textOnly is r's one text block when r is a result preEncoded can
// encode: that block, plain, and an encodedAsText structuredContent.
func textOnly(r *mcp.CallToolResult) *mcp.TextContent {
	if len(r.Content) != 1 {
		return nil
	}
	tc, ok := r.Content[0].(*mcp.TextContent)
	if !ok || tc == nil || tc.Meta != nil || tc.Annotations != nil {
		return nil
	}
	if _, ok := r.StructuredContent.(encodedAsText); !ok {
		return nil
	}
	return tc
}

// preEncoded is a result that encodes itself once, for a stdio session.
type preEncoded struct {
	*mcp.CallToolResult
	answers *answers // nil once a stand-in is out
}

// MarshalJSON is the stand-in of the result's encoding, kept in answers;
// or, if the result is no longer of the shape encodeResult writes (or a
// stand-in was already given), the SDK's encoding of the result.
func (p *preEncoded) MarshalJSON() ([]byte, error) {
	tc := textOnly(p.CallToolResult)
	if p.answers == nil || tc == nil {
		return p.CallToolResult.MarshalJSON()
	}
	head, tail, ok := p.frame()
	if !ok {
		return p.CallToolResult.MarshalJSON()
	}
	a := p.answers
	p.answers = nil
	if b, err := encodeResult(head, tc.Text, tail); err == nil {
		if standIn := a.put(b); standIn != nil {
			return standIn, nil
		}
	}
	return p.CallToolResult.MarshalJSON()
}

// frame is the SDK's encoding of the result around its content and
// structuredContent, which it writes after _meta and before every other
// member: head is "{" and _meta's member, tail the other members and "}".
// The SDK's encoding of the result without content and structuredContent
// must be head, "content":null and tail, or ok is false. For a client of
// the 2026-07-28 protocol the SDK adds _meta (serverInfo) and resultType
// to every result; a result with isError, input requests or anything else
// gets its members in tail all the same.
func (p *preEncoded) frame() (head, tail []byte, ok bool) {
	const null = `"content":null`
	rest := *p.CallToolResult
	rest.Content, rest.StructuredContent = nil, nil
	whole, err := rest.MarshalJSON()
	if err != nil {
		return nil, nil, false
	}
	rest.Meta = nil
	noMeta, err := rest.MarshalJSON()
	if err != nil || !bytes.HasPrefix(noMeta, []byte("{"+null)) {
		return nil, nil, false
	}
	tail = noMeta[len("{"+null):]
	head = []byte("{")
	if len(p.Meta) > 0 { // omitempty
		m, err := json.Marshal(p.Meta)
		if err != nil {
			return nil, nil, false
		}
		head = append(append(append(head, `"_meta":`...), m...), ',')
	}
	if string(whole) != string(head)+null+string(tail) {
		return nil, nil, false
	}
	return head, tail, true
}

// encodeResult is the SDK's encoding of a result whose one text block is
// text and whose structuredContent's JSON is text, in its frame (head,
// tail): the text escaped as TextContent's MarshalJSON escapes it
// (json.Marshal's: HTML characters, U+2028 and U+2029 as \u escapes; text
// is valid UTF-8, successResult's json.Marshal made it), then text as it is.
func encodeResult(head []byte, text string, tail []byte) ([]byte, error) {
	const content, mid = `"content":[{"type":"text","text":`, `}],"structuredContent":`
	buf := bytes.NewBuffer(make([]byte, 0, len(head)+len(content)+len(text)+len(text)/4+16+len(mid)+len(text)+len(tail)))
	buf.Write(head)
	buf.WriteString(content)
	if err := json.NewEncoder(buf).Encode(text); err != nil {
		return nil, err
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
	buf.WriteString(mid)
	buf.WriteString(text)
	buf.Write(tail)
	return buf.Bytes(), nil
}
