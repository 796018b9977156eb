package server

import (
	"context"
	"errors"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// codedErrors gives every JSON-RPC error response a JSON-RPC error code. The
// SDK answers some requests with a plain Go error, which goes out with code
// 0 (not a JSON-RPC code: strict clients reject the response as
// malformed); a second "initialize" on a session is one. Such an error
// becomes -32600 (invalid request) for "initialize" (the session state
// makes the request invalid) and -32603 (internal error) otherwise, with
// its message kept. Errors that carry a code keep it.
//
// The SDK's answer to a request sent before "initialize" is decided before
// any middleware runs, and still has code 0 (go-sdk v1.8.0).
func codedErrors(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		res, err := next(ctx, method, req)
		if err == nil {
			return res, nil
		}
		var wire *jsonrpc.Error
		if errors.As(err, &wire) && wire.Code != 0 {
			return res, err
		}
		code := int64(jsonrpc.CodeInternalError)
		if method == "initialize" {
			code = jsonrpc.CodeInvalidRequest
		}
		return res, &jsonrpc.Error{Code: code, Message: err.Error()}
	}
}
