package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/server"
)

// rawClient speaks JSON-RPC to a server over its stdio transport's pipes
// with no MCP client: it writes a request line and reads lines until the
// answer's, without decoding it, so that a call's time is the server's
// answer (its handling, its encoding, the pipe) and no client's decoding.
type rawClient struct {
	w  *os.File
	r  *bufio.Reader
	id int
}

// newRawClient serves srv over pipes and opens an MCP session on them
// (initialize, notifications/initialized).
func newRawClient(b *testing.B, srv *server.Server) *rawClient {
	fromServer, fromClient := rawPipes(b, srv)
	c := &rawClient{w: fromClient, r: bufio.NewReaderSize(fromServer, 1<<20)}
	c.call(b, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}`)
	if _, err := c.w.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n"); err != nil {
		b.Fatal(err)
	}
	return c
}

// call sends a request and returns its answer's line, valid until the next
// call (the reader's buffer), and the time from the write to the answer's
// last byte. Lines that are not the answer (notifications) are skipped.
func (c *rawClient) call(b *testing.B, method, params string) ([]byte, time.Duration) {
	c.id++
	req := fmt.Appendf(nil, `{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`+"\n", c.id, method, params)
	want := fmt.Appendf(nil, `"id":%d,`, c.id)
	t0 := time.Now()
	if _, err := c.w.Write(req); err != nil {
		b.Fatal(err)
	}
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			b.Fatalf("%s: reading the answer: %v", method, err)
		}
		if bytes.Contains(line[:min(len(line), 40)], want) {
			return line, time.Since(t0)
		}
	}
}

// tool calls a tool and returns its answer's line (see call).
func (c *rawClient) tool(b *testing.B, name string, args any) ([]byte, time.Duration) {
	a, err := json.Marshal(args)
	if err != nil {
		b.Fatal(err)
	}
	return c.call(b, "tools/call", fmt.Sprintf(`{"name":%q,"arguments":%s}`, name, a))
}

// rawSeqOffset runs seq 2000000 through c (the ring is full) and returns
// its pid and the offset of the middle of its stdout buffer.
func rawSeqOffset(b *testing.B, c *rawClient) (pid int, offset int64) {
	line, _ := c.tool(b, "process_run", map[string]any{"executable": "/usr/bin/seq", "args": []string{"2000000"}, "maxResultBytes": 1})
	var resp struct {
		Result struct {
			IsError           bool
			StructuredContent struct {
				Pid        int
				NextOffset struct{ Stdout int64 }
			}
		}
	}
	if err := json.Unmarshal(line, &resp); err != nil || resp.Result.IsError || resp.Result.StructuredContent.NextOffset.Stdout < 10<<20 {
		b.Fatalf("process_run seq: %v %.500s", err, line)
	}
	sc := resp.Result.StructuredContent
	return sc.Pid, sc.NextOffset.Stdout - 5<<20
}

// getOutputRaw is process_get_output of 64 KiB from the middle of a full
// buffer through a raw client: the server's own answer time.
func getOutputRaw(b *testing.B) {
	c := newRawClient(b, benchServer(b, benchSeqConfig(b), "mcp", false))
	pid, offset := rawSeqOffset(b, c)
	args := map[string]any{"pid": pid, "stream": "stdout", "offset": offset, "maxBytes": 65536}
	var times []time.Duration
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		line, d := c.tool(b, "process_get_output", args)
		if bytes.Contains(line, []byte(`"isError":true`)) || len(line) < 64<<10 {
			b.Fatalf("process_get_output: %.500s", line)
		}
		times = append(times, d)
	}
	reportQuantiles(b, "", times)
}

// getOutputSDKvsRaw interleaves the Go SDK client's round trip (stdio)
// with the raw client's (each on a server of its own), call for call, so
// that both figures come from the same minutes of a noisy machine.
func getOutputSDKvsRaw(b *testing.B) {
	cs := mcpSessionOver(b, true, "/usr/bin/seq")
	sdkPid, sdkOffset := seqOffset(b, cs)
	sdkArgs := map[string]any{"pid": sdkPid, "stream": "stdout", "offset": sdkOffset, "maxBytes": 65536}
	c := newRawClient(b, benchServer(b, benchSeqConfig(b), "mcp", false))
	pid, offset := rawSeqOffset(b, c)
	args := map[string]any{"pid": pid, "stream": "stdout", "offset": offset, "maxBytes": 65536}
	var sdk, raw []time.Duration
	for b.Loop() {
		sdk = append(sdk, getOutputSDK(b, cs, sdkArgs))
		line, d := c.tool(b, "process_get_output", args)
		if bytes.Contains(line, []byte(`"isError":true`)) || len(line) < 64<<10 {
			b.Fatalf("process_get_output: %.500s", line)
		}
		raw = append(raw, d)
	}
	reportQuantiles(b, "sdk-", sdk)
	reportQuantiles(b, "raw-", raw)
}

// reportQuantiles reports the median and the 90th percentile of times, in ms.
func reportQuantiles(b *testing.B, prefix string, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, prefix+"median-ms")
	b.ReportMetric(float64(times[len(times)*9/10].Microseconds())/1000, prefix+"p90-ms")
}

// benchSeqConfig is benchConfigT allowing /usr/bin/seq.
func benchSeqConfig(b *testing.B) *config.Config {
	cfg := benchConfigT(b)
	cfg.AllowedExecutables = append(cfg.AllowedExecutables, "/usr/bin/seq")
	return cfg
}
