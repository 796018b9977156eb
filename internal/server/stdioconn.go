package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// stdioTransport is the stdio session's mcp.Transport: newline-delimited
// JSON-RPC over the client's stream and ours, as the SDK's IOTransport
// speaks it, with each line decoded once. The lines come through
// lineFilter, which answers malformed ones itself and decodes the others
// with jsonrpc.DecodeMessage, the decoder the SDK's transport uses: the
// IOTransport would scan each line again (encoding/json), try it as a batch
// and decode it a second time (each of the SDK's decodes allocates a 32 KiB
// buffer). Batches never reach here (lineFilter refuses them), so the
// SDK's batch bookkeeping has nothing to do either.
type stdioTransport struct {
	in      io.ReadCloser
	out     *lockedWriter
	logger  *slog.Logger
	answers *answers // results encoded ahead (preencode.go)
}

func (t *stdioTransport) Connect(context.Context) (mcp.Connection, error) {
	c := &stdioConn{filter: newLineFilter(t.in, t.out, t.logger), out: t.out, answers: t.answers,
		incoming: make(chan stdioMsg), closed: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// stdioConn is one stdio session's mcp.Connection. Its read loop owns the
// client's stream; Read takes what it decoded. As in the SDK's transport,
// the loop is a goroutine of its own so that Close ends a pending Read even
// when the stream's read cannot be interrupted (a blocking stdin): the loop
// ends at the stream's end or error, or when it would hand a message to a
// closed connection.
type stdioConn struct {
	filter   *lineFilter
	out      *lockedWriter
	answers  *answers
	incoming chan stdioMsg

	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
}

type stdioMsg struct {
	msg jsonrpc.Message
	err error
}

func (c *stdioConn) readLoop() {
	for {
		m, err := c.filter.next()
		select {
		case c.incoming <- stdioMsg{m, err}:
		case <-c.closed:
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *stdioConn) Read(ctx context.Context) (jsonrpc.Message, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	default:
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case v := <-c.incoming:
		return v.msg, v.err
	case <-c.closed:
		return nil, io.EOF
	}
}

// Write sends msg as one line, in one write (lockedWriter keeps it whole
// beside lineFilter's answers); an answer whose result is a stand-in is
// sent with the result it stands for (preencode.go), which is forgotten
// here whatever happens next.
func (c *stdioConn) Write(ctx context.Context, msg jsonrpc.Message) error {
	msg = c.answers.resolve(msg)
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	data, err := encodeLine(msg)
	if err != nil {
		return fmt.Errorf("marshaling message: %v", err)
	}
	_, err = c.out.Write(data)
	return err
}

// encodeLine is msg's line: jsonrpc.EncodeMessage's bytes and a newline.
// A successful answer to a request with a number for its id (the SDK's
// clients and most others number their requests) is written around its
// result as it is: the SDK made the result with its encoder (compact,
// HTML not escaped), and EncodeMessage would only scan and copy it once
// more, a pass as long as the answer (a process_get_output of 64 KiB is
// ~160 KB). Any other message goes through EncodeMessage.
func encodeLine(msg jsonrpc.Message) ([]byte, error) {
	// A result with a raw newline (which the SDK's encoder never writes)
	// would break the framing: such a one goes through EncodeMessage.
	if r, ok := msg.(*jsonrpc.Response); ok && r.Error == nil && len(r.Result) > 0 && bytes.IndexByte(r.Result, '\n') < 0 {
		if id, ok := r.ID.Raw().(int64); ok {
			b := make([]byte, 0, len(r.Result)+len(`{"jsonrpc":"2.0","id":,"result":}`)+22)
			b = strconv.AppendInt(append(b, `{"jsonrpc":"2.0","id":`...), id, 10)
			b = append(append(append(b, `,"result":`...), r.Result...), "}\n"...)
			return b, nil
		}
	}
	data, err := jsonrpc.EncodeMessage(msg)
	return append(data, '\n'), err
}

// Close closes the client's stream, then ours.
func (c *stdioConn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = errors.Join(c.filter.Close(), c.out.Close())
		c.answers.close()
		close(c.closed)
	})
	return c.closeErr
}

func (c *stdioConn) SessionID() string { return "" }
