// Package soak drives the built mcp-process binary over stdio with the Go
// MCP SDK client through thousands of launches of mixed kinds (process_run,
// process_start + process_terminate, stdin and output, services with health
// checks, groups) with bad inputs interleaved, each of which must get its
// documented error code, and then measures the server from outside (/proc
// and the cgroup hierarchies): no descendant process, no launch cgroup left,
// open fds and threads back to their start, RSS back within 10% of its value
// after warm-up (SPEC 7.2, issue 15).
//
// The short mode (200 launches) runs in `go test ./...`; the full mode is
// `bench/soak/run.sh` (10,000 launches, as root). See docs/reliability.md.
package soak
