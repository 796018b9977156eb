package server

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// repeatedInitialize answers a second (third, ...) "initialize" on a session
// with the result of its first, as the original server did (its clients'
// test suites send initialize again on a live session, SPEC 7.3), instead
// of the SDK's error. Nothing of the session changes: not its protocol
// version, not the client's capabilities, not the agent the session's
// client name made it (over stdio): the later request's parameters are
// ignored.
type repeatedInitialize struct {
	srv   *Server
	mu    sync.Mutex
	first map[*mcp.ServerSession]mcp.Result
}

func newRepeatedInitialize(s *Server) *repeatedInitialize {
	return &repeatedInitialize{srv: s, first: map[*mcp.ServerSession]mcp.Result{}}
}

func (r *repeatedInitialize) middleware(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "initialize" {
			return next(ctx, method, req)
		}
		ss, _ := req.GetSession().(*mcp.ServerSession)
		if ss != nil {
			r.mu.Lock()
			res, ok := r.first[ss]
			r.mu.Unlock()
			if ok {
				return res, nil
			}
		}
		res, err := next(ctx, method, req)
		if err == nil && ss != nil {
			r.remember(ss, res)
		}
		return res, err
	}
}

// remember keeps ss's first result, and forgets the sessions that ended.
func (r *repeatedInitialize) remember(ss *mcp.ServerSession, res mcp.Result) {
	// The live sessions are listed under the lock: a session remembered
	// meanwhile by another call is in the list, not forgotten as ended.
	r.mu.Lock()
	defer r.mu.Unlock()
	live := map[*mcp.ServerSession]bool{}
	for s := range r.srv.mcp.Sessions() {
		live[s] = true
	}
	for s := range r.first {
		if !live[s] {
			delete(r.first, s)
		}
	}
	r.first[ss] = res
}

// unknownTool answers a tools/call of a tool that does not exist with an
// isError result carrying the error JSON (status "error", code, message),
// as the original server did and its clients read it (SPEC 7.3: every
// client reads every result), instead of the SDK's JSON-RPC error.
func (s *Server) unknownTool(next mcp.MethodHandler) mcp.MethodHandler {
	return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
		if method != "tools/call" {
			return next(ctx, method, req)
		}
		p, ok := req.GetParams().(*mcp.CallToolParamsRaw)
		if !ok || p == nil || slices.Contains(s.tools, p.Name) {
			return next(ctx, method, req)
		}
		return errorToolResult(errcode.Fail(errcode.InvalidInput, layer.Server, "call one of the tools tools/list names: "+strings.Join(s.tools, ", "),
			"unknown tool %q", p.Name)), nil
	}
}
