package stage

// FlagTerminal: the sent stdin is the slave of a pseudo-terminal (the
// launcher sends the same slave as stdout and stderr): the stage makes it
// its controlling terminal (TIOCSCTTY) right after installing it, so the
// target, the leader of a session of its own, runs on it as on a login
// terminal: isatty, /dev/tty, job control and SIGWINCH on resize. The bit
// is kept apart from the other flags' sequence on purpose.
const FlagTerminal uint32 = 1 << 31

// StepTerminal is the step that makes the sent terminal the controlling one.
const StepTerminal = "terminal"

// AddFlags sets flags in an encoded config (Encode's output) in place. It
// reports false, changing nothing, when b is not an encoded config.
func AddFlags(b []byte, flags uint32) bool {
	if !encodedConfig(b, headerSize+4) {
		return false
	}
	putU32(b[headerSize:], getU32(b[headerSize:])|flags)
	return true
}
