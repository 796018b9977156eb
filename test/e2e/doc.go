// Package e2e holds the end-to-end tests of mcp-process. They build the real
// binary once (CGO_ENABLED=0) and drive it the way users do: over MCP stdio
// with the official Go SDK client, with a raw JSON-RPC client that checks
// every byte of stdout, and through the CLI subcommands. Every test gives the
// server its own configuration, working directory and audit log under
// t.TempDir(), so nothing outside the test's temporary directories is read or
// written. The package has no non-test code.
package e2e
