//go:build unix

package audit

import "syscall"

// oNoFollow makes an open fail (ELOOP) on a symbolic link at the last
// component of its path.
const oNoFollow = syscall.O_NOFOLLOW
