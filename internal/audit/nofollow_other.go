//go:build !unix

package audit

// oNoFollow: no such flag on this OS.
const oNoFollow = 0
