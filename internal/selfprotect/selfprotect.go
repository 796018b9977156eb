// Package selfprotect makes the process that imports it untouchable by its
// children before any of its own code runs: on Linux its init marks the
// process non-dumpable (PR_SET_DUMPABLE 0), so that a process of the same
// uid cannot ptrace it, pidfd_getfd its descriptors (the MCP protocol's
// stdout, the audit log), or read its /proc/PID/mem, environ or fd
// entries, and it dumps no core. The mark lasts for the process's life; an
// execve of another program resets it (the child is dumpable again).
//
// Import it first, for its side effect, from the main package of a program
// that starts untrusted children: `import _ ".../internal/selfprotect"`.
// It imports only syscall, so it is initialised before the rest of the
// program. A failure to set the mark is kept for Err (the kernel refuses
// PR_SET_DUMPABLE 0 only on kernels older than anything Go supports).
package selfprotect

var err error

// Err reports why the process could not be made non-dumpable (nil: it is,
// or the OS has no such mark).
func Err() error { return err }
