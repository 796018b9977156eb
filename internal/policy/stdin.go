package policy

import (
	"encoding/base64"
	"unicode/utf8"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Stdin encodings accepted by process_send_stdin.
const (
	EncodingUTF8   = "utf8"
	EncodingBase64 = "base64"
)

// DecodeStdin turns the data of a process_send_stdin call into bytes.
// encoding is "utf8" (or "", the default) or "base64" (standard alphabet,
// padded); anything else, or bad base64, is INVALID_INPUT.
func DecodeStdin(data string, encoding string) ([]byte, *errcode.Error) {
	switch encoding {
	case "", EncodingUTF8:
		return []byte(data), nil
	case EncodingBase64:
		b, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, errcode.Fail(errcode.InvalidInput, LayerIO,
				"send standard, padded base64 (RFC 4648), or use encoding \"utf8\"",
				"data is not valid base64: %v", err)
		}
		return b, nil
	default:
		return nil, errcode.Fail(errcode.InvalidInput, LayerIO,
			`use encoding "utf8" or "base64"`, "unknown encoding %q", encoding)
	}
}

// CheckStdinAllowed is the allowStdinInput rule (SPEC 3.9), the one place
// it is decided: every writer of a child's stdin (the MCP tool, the CLI's
// forwarding, the supervisor itself) asks here.
func CheckStdinAllowed(cfg *config.Config) *errcode.Error {
	if !cfg.AllowStdinInput {
		return errcode.Deny(errcode.StdinNotAllowed, LayerIO,
			"set allowStdinInput to true to let agents write to stdin",
			"writing to stdin is disabled (allowStdinInput is false)")
	}
	return nil
}

// CheckStdin applies SPEC 3.9 to data about to be written to a child's
// stdin: allowStdinInput must be on; with blockBinaryStdin, base64 is
// refused and so is binary data (see IsBinary). The message never echoes the
// data.
func CheckStdin(cfg *config.Config, data []byte, encoding string) *errcode.Error {
	if err := CheckStdinAllowed(cfg); err != nil {
		return err
	}
	if !cfg.BlockBinaryStdin {
		return nil
	}
	if encoding == EncodingBase64 {
		return errcode.Deny(errcode.BinaryStdinBlocked, LayerIO,
			`send text with encoding "utf8", or set blockBinaryStdin to false`,
			"base64 stdin is refused (blockBinaryStdin is true)")
	}
	if off, why := binaryAt(data); off >= 0 {
		return errcode.Deny(errcode.BinaryStdinBlocked, LayerIO,
			`send UTF-8 text with no control characters other than tab, newline and carriage return, or set blockBinaryStdin to false`,
			"stdin data is binary: %s at byte %d", why, off)
	}
	return nil
}

// IsBinary reports whether data is binary in the sense of SPEC 6: it holds
// NUL, invalid UTF-8, a C0 control other than \t \n \r, DEL, or a C1 control
// (U+0080-U+009F).
func IsBinary(data []byte) bool {
	off, _ := binaryAt(data)
	return off >= 0
}

// binaryAt returns the offset of the first binary byte and why, or -1.
func binaryAt(data []byte) (int, string) {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return i, "invalid UTF-8"
		case r == 0:
			return i, "a NUL byte"
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			return i, "a control character"
		case r == 0x7f:
			return i, "a DEL character"
		case r >= 0x80 && r <= 0x9f:
			return i, "a C1 control character"
		}
		i += size
	}
	return -1, ""
}
