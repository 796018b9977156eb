//go:build linux

package stage

// tiocSCTTY is TIOCSCTTY (asm-generic, the same on amd64 and arm64).
const tiocSCTTY = 0x540E

// takeTerminal makes descriptor 0, the terminal's slave, the stage's
// controlling terminal (FlagTerminal). The stage leads a session of its
// own (the launcher clones it with setsid) that has no controlling
// terminal yet, so this needs no privilege; its process group becomes the
// terminal's foreground group.
func takeTerminal(c *Config) *StepError {
	if c.Flags&FlagTerminal == 0 {
		return nil
	}
	if _, e := rawSyscall6(nrIoctl, 0, tiocSCTTY, 0, 0, 0, 0); e != 0 {
		return &StepError{Step: StepTerminal, Errno: e, Detail: "make the pseudo-terminal the controlling terminal (TIOCSCTTY)"}
	}
	return nil
}
