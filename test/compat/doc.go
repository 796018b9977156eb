// Package compat is the compatibility test against the original TypeScript
// server's own end-to-end suite (Digital-Defiance/mcp-process v1.5.10,
// src/lib/server.e2e.spec.ts and server.minimal.e2e.spec.ts): one Go
// counterpart for each of its 47 tests, written here from what those tests
// send and check. The built binary is started with no arguments in a
// directory holding the original repository's mcp-process-config.json
// (testdata/, the same keys and values), as the original's suite starts
// `node dist/cli.js` in its checkout; it is driven with raw JSON-RPC lines
// exactly as the original's clients do (no notifications/initialized;
// a tool's result read by parsing its first text content as JSON). A test
// that cannot pass because this server deliberately refuses what the
// original allowed is listed, with the reason, in docs/migrating.md and
// skipped here by name (deliberateDifferences). The package has no
// non-test code.
package compat
