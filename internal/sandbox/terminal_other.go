//go:build !linux

package sandbox

import "os"

// OpenTerminal reports the sandbox unavailable on this platform.
func OpenTerminal(cols, rows int) (master, slave *os.File, err error) { return nil, nil, unavailable() }

// SetTerminalSize reports the sandbox unavailable on this platform.
func SetTerminalSize(master *os.File, cols, rows int) error { return unavailable() }

// TerminalSize reports the sandbox unavailable on this platform.
func TerminalSize(master *os.File) (cols, rows int, err error) { return 0, 0, unavailable() }

// TerminalEOF reports the sandbox unavailable on this platform.
func TerminalEOF(master *os.File) (byte, bool, error) { return 0, false, unavailable() }
