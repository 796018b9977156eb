package policy

import (
	"unicode/utf8"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// CheckTerminalInput is CheckStdin for a process on a pseudo-terminal
// (SPEC 7.4): control characters (Ctrl-C, Ctrl-D, escape sequences) are
// how a terminal is driven, so blockBinaryStdin refuses only NUL and
// invalid UTF-8, whatever the encoding the data came in.
func CheckTerminalInput(cfg *config.Config, data []byte) *errcode.Error {
	if !cfg.AllowStdinInput {
		return errcode.Deny(errcode.StdinNotAllowed, LayerIO,
			"set allowStdinInput to true to let agents write to stdin",
			"writing to stdin is disabled (allowStdinInput is false)")
	}
	if !cfg.BlockBinaryStdin {
		return nil
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		why := ""
		switch {
		case r == utf8.RuneError && size <= 1:
			why = "invalid UTF-8"
		case r == 0:
			why = "a NUL byte"
		}
		if why != "" {
			return errcode.Deny(errcode.BinaryStdinBlocked, LayerIO,
				"send UTF-8 text without NUL bytes (control characters are fine on a terminal), or set blockBinaryStdin to false",
				"terminal input is binary: %s at byte %d", why, i)
		}
		i += size
	}
	return nil
}
