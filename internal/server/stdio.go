package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// The stdio session survives malformed input (SPEC 7.2). The SDK's stdio
// transport ends the session on the first line it cannot decode (not JSON,
// trailing data, a JSON value that is not a JSON-RPC message, JSON nested
// past encoding/json's limit, an over-long line), and the end of a session
// stops every process it started. lineFilter reads the client's lines
// first: a line the SDK would choke on is answered here with a JSON-RPC
// error and never reaches the SDK; every other line is decoded once, as
// the SDK's stdio transport decodes it, and handed on (stdioconn.go).
//
//   - not JSON, or two values on one line: -32700 (parse error), id null;
//   - JSON nested deeper than maxMessageDepth, a value that is not a
//     JSON-RPC 2.0 message object, a batch (an array: MCP 2025-06-18
//     dropped batching, and the SDK ends a session that sends one at that
//     version), a line longer than maxMessageBytes: -32600 (invalid
//     request), with the request's id when it can be read, else null.
//
// Blank lines are skipped silently.
const (
	maxMessageDepth = 64
	maxMessageBytes = mcp.DefaultMaxLineLength
	// malformedLogLimit bounds the stderr lines one session's malformed
	// input can cause.
	malformedLogLimit = 10
)

// lineFilter reads the client's lines for the stdio connection (stdioconn.go):
// it yields only lines that decode as one JSON-RPC message each, decoded.
type lineFilter struct {
	src    io.ReadCloser
	r      *bufio.Reader
	out    *lockedWriter
	logger *slog.Logger

	err    error // the source's error, returned once the last line is handed on
	logged int
}

func newLineFilter(src io.ReadCloser, out *lockedWriter, logger *slog.Logger) *lineFilter {
	return &lineFilter{src: src, r: bufio.NewReaderSize(src, 64<<10), out: out, logger: logger}
}

// next returns the next good line's message, answering and skipping bad
// ones; after the last one, the source's error (io.EOF at its end).
func (f *lineFilter) next() (jsonrpc.Message, error) {
	for {
		if f.err != nil {
			return nil, f.err
		}
		line, tooLong, err := f.readLine()
		if err != nil {
			f.err = err
		}
		if tooLong {
			f.reject(nil, jsonrpc.CodeInvalidRequest, fmt.Sprintf("message longer than %d bytes", maxMessageBytes))
			continue
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		msg, code, text, id := checkMessage(line)
		if code != 0 {
			f.reject(id, code, text)
			continue
		}
		return msg, nil
	}
}

// Close closes the client's stream.
func (f *lineFilter) Close() error { return f.src.Close() }

// readLine reads one line (without its newline). A line longer than
// maxMessageBytes is read to its end and discarded: tooLong reports it. At
// the end of the stream a last unterminated line is returned with the
// error.
func (f *lineFilter) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := f.r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > maxMessageBytes+2 { // +2: "\r\n"
				tooLong, buf = true, nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		switch {
		case err == nil:
			return buf, tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		default:
			return buf, tooLong, err
		}
	}
}

// reject answers one bad line.
func (f *lineFilter) reject(id json.RawMessage, code int64, msg string) {
	if id == nil {
		id = json.RawMessage("null")
	}
	resp, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   jsonrpc.Error   `json:"error"`
	}{"2.0", id, jsonrpc.Error{Code: code, Message: msg}})
	if err == nil {
		_, _ = f.out.Write(append(resp, '\n'))
	}
	f.logged++
	switch {
	case f.logged <= malformedLogLimit:
		f.logger.Warn("stdio: malformed message answered with a JSON-RPC error; the session goes on", "code", code, "reason", msg)
	case f.logged == malformedLogLimit+1:
		f.logger.Warn("stdio: further malformed messages in this session are answered but not logged")
	}
}

// checkMessage returns a line's message as the SDK decodes it
// (jsonrpc.DecodeMessage), or the JSON-RPC error code and message to
// answer the line with, and its id when readable.
func checkMessage(line []byte) (m jsonrpc.Message, code int64, msg string, id json.RawMessage) {
	if !json.Valid(line) {
		return nil, jsonrpc.CodeParseError, "parse error: not one JSON value", nil
	}
	if d := jsonDepth(line); d > maxMessageDepth {
		return nil, jsonrpc.CodeInvalidRequest, fmt.Sprintf("invalid request: JSON nested deeper than %d levels", maxMessageDepth), nil
	}
	if line[0] == '[' {
		return nil, jsonrpc.CodeInvalidRequest, "invalid request: JSON-RPC batches are not supported; send one message per line", nil
	}
	if line[0] != '{' {
		return nil, jsonrpc.CodeInvalidRequest, "invalid request: a JSON-RPC message is a JSON object", nil
	}
	m, err := jsonrpc.DecodeMessage(line)
	if err != nil {
		return nil, jsonrpc.CodeInvalidRequest, "invalid request: not a JSON-RPC 2.0 message (" + err.Error() + ")", messageID(line)
	}
	return m, 0, "", nil
}

// messageID returns a message's id if it is a string or a number.
func messageID(line []byte) json.RawMessage {
	var m struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(line, &m) != nil || len(m.ID) == 0 {
		return nil
	}
	switch m.ID[0] {
	case '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return m.ID
	}
	return nil
}

// jsonDepth returns the deepest nesting of arrays and objects in valid JSON.
func jsonDepth(b []byte) int {
	depth, maxDepth, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			maxDepth = max(maxDepth, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return maxDepth
}

// lockedWriter serialises the SDK's messages and lineFilter's answers on
// stdout: each Write is one whole message.
type lockedWriter struct {
	mu sync.Mutex
	w  io.WriteCloser
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (l *lockedWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Close()
}
