package server

import (
	"encoding/base64"
	"strings"
	"unicode/utf8"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// A process's output on the wire. The supervisor hands out the bytes a
// process wrote; the tools' results carry them as the agent asked: text
// (UTF-8, a run of invalid bytes replaced by U+FFFD, the default) or
// base64 (the bytes exactly), per stream or both.

// outputResult is process_get_output's result.
type outputResult struct {
	Stdout      string `json:"stdout"`
	Stderr      string `json:"stderr"`
	Encoding    string `json:"encoding"`
	StdoutBytes int64  `json:"stdoutBytes"` // total ever written
	StderrBytes int64  `json:"stderrBytes"`
	// Offset is where this read started in each stream.
	Offset supervisor.StreamCounts `json:"offset"`
	// NextOffset is where the next read should start to get only new bytes.
	NextOffset supervisor.StreamCounts `json:"nextOffset"`
	// DroppedBytes is the total of each stream's bytes no longer retained.
	DroppedBytes supervisor.StreamCounts `json:"droppedBytes"`
	// Pty is true when the process runs on a pseudo-terminal: stdout is
	// everything the terminal showed, and stderr is always empty.
	Pty bool `json:"pty,omitempty"`
}

// runResult is process_run's result: the status, and the tail of each
// stream as text.
type runResult struct {
	supervisor.Status
	// Stdout and Stderr are the tail of each stream, at most
	// maxResultBytes each, as UTF-8 (invalid bytes replaced).
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// Truncated is true when stdout or stderr is not the whole output of
	// its stream: the rest is readable with process_get_output from
	// droppedBytes up to offset.
	Truncated bool `json:"truncated"`
	// StdoutBytes and StderrBytes are the bytes each stream wrote in total.
	StdoutBytes int64 `json:"stdoutBytes"`
	StderrBytes int64 `json:"stderrBytes"`
	// Offset is where the returned stdout and stderr start in their stream.
	Offset supervisor.StreamCounts `json:"offset"`
	// NextOffset is the end of each stream (where a further read would start).
	NextOffset supervisor.StreamCounts `json:"nextOffset"`
	// DroppedBytes is, per stream, the bytes no longer retained by the
	// ring buffer (not readable any more).
	DroppedBytes supervisor.StreamCounts `json:"droppedBytes"`
	DurationMs   int64                   `json:"durationMs"`
}

// outputWire and runWire are the results with "status":"success" first
// (statusResult): structs that encoding/json writes in one pass.
type outputWire struct {
	Status string `json:"status"`
	*outputResult
}

type runWire struct {
	Status string `json:"status"`
	*runResult
}

func (r *outputResult) withStatus() any { return outputWire{statusSuccess, r} }
func (r *runResult) withStatus() any    { return runWire{statusSuccess, r} }

// As structuredContent, each is encodedAsText: successResult's text
// content is its JSON (preencode.go).
func (outputWire) encodedAsText() {}
func (runWire) encodedAsText()    {}

// Output encodings (the encoding argument, after canonicalEncoding).
const (
	encodingText   = "utf8"
	encodingBase64 = "base64"
)

// asText is b as UTF-8 text: each run of invalid bytes is one U+FFFD.
// Valid text (most output) is checked by utf8.Valid, many bytes at a
// time, rather than rune by rune.
func asText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// encodeOutput is b in enc (encodingText or encodingBase64).
func encodeOutput(b []byte, enc string) string {
	if enc == encodingBase64 {
		return base64.StdEncoding.EncodeToString(b)
	}
	return asText(b)
}

// outputQuery is the supervisor's query for process_get_output's stream
// and the result's encoding ("" = both streams, text).
func outputQuery(in outputInput) (supervisor.OutputQuery, string, error) {
	q := supervisor.OutputQuery{MaxBytes: in.MaxBytes, Tail: in.Tail}
	switch in.Stream {
	case "", "both":
	case supervisor.StreamStdout, supervisor.StreamStderr:
		q.Stream = in.Stream
	default:
		return q, "", errcode.Fail(errcode.InvalidInput, layer.IO, `use "stdout", "stderr" or "both"`, "unknown stream %q", in.Stream)
	}
	enc := canonicalEncoding(in.Encoding)
	switch enc {
	case "":
		enc = encodingText
	case encodingText, encodingBase64:
	default:
		return q, "", errcode.Fail(errcode.InvalidInput, layer.IO, `use "utf8" or "base64"`, "unknown encoding %q", enc)
	}
	if in.Offset != nil {
		q.Offset = supervisor.StreamOffsets{Stdout: in.Offset, Stderr: in.Offset}
	}
	return q, enc, nil
}

func newOutputResult(o *supervisor.OutputResult, enc string) *outputResult {
	return &outputResult{Stdout: encodeOutput(o.Stdout, enc), Stderr: encodeOutput(o.Stderr, enc), Encoding: enc,
		StdoutBytes: o.StdoutBytes, StderrBytes: o.StderrBytes,
		Offset: o.Offset, NextOffset: o.NextOffset, DroppedBytes: o.DroppedBytes, Pty: o.Pty}
}

func newRunResult(r *supervisor.RunResult) *runResult {
	return &runResult{Status: r.Status, Stdout: asText(r.Stdout), Stderr: asText(r.Stderr), Truncated: r.Truncated,
		StdoutBytes: r.StdoutBytes, StderrBytes: r.StderrBytes,
		Offset: r.Offset, NextOffset: r.NextOffset, DroppedBytes: r.DroppedBytes, DurationMs: r.DurationMs}
}
