package policy

import (
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

func TestCheckTerminalInput(t *testing.T) {
	cfg := &config.Config{AllowStdinInput: true, BlockBinaryStdin: true}
	for _, ok := range []string{"ls\n", "\x03", "\x04", "\x1b[A", "\x7f", "héllo\t\r\n"} {
		if err := CheckTerminalInput(cfg, []byte(ok)); err != nil {
			t.Errorf("%q refused on a terminal: %v", ok, err)
		}
		if CheckStdin(cfg, []byte(ok), EncodingUTF8) == nil && ok != "ls\n" && ok != "héllo\t\r\n" {
			t.Errorf("%q accepted on a pipe (the terminal rule leaked)", ok)
		}
	}
	for _, bad := range []string{"a\x00b", "\xff"} {
		if err := CheckTerminalInput(cfg, []byte(bad)); err == nil || err.Code != errcode.BinaryStdinBlocked {
			t.Errorf("%q on a terminal: %v, want BINARY_STDIN_BLOCKED", bad, err)
		}
	}
	cfg.BlockBinaryStdin = false
	if err := CheckTerminalInput(cfg, []byte("\x00")); err != nil {
		t.Errorf("blockBinaryStdin false: %v", err)
	}
	cfg.AllowStdinInput = false
	if err := CheckTerminalInput(cfg, []byte("x")); err == nil || err.Code != errcode.StdinNotAllowed {
		t.Errorf("allowStdinInput false: %v", err)
	}
}
