// Package escape is the attack suite of mcp-process: each test makes one
// real escape attempt from inside a launched process (a static probe
// program, testdata/probe, run through `mcp-process run`) with one
// isolation layer on, asserts that it failed (with the errno the layer
// gives), names that layer, and runs the same attack without the layer to
// show that it then works (or fails differently), so that no test passes by
// accident. Everything the attacks aim at is created by the tests (a sleep
// to kill or trace, a listener on 127.0.0.1, files and mount points under
// temporary directories). The tests need root. The server under attack is
// root by default; MCP_PROCESS_ESCAPE_SERVER_UID=65534 runs every server as
// that unprivileged uid instead, and each test says what it runs then
// (mode_test.go). The package has no non-test code; README.md maps each
// attack to its layer.
package escape
