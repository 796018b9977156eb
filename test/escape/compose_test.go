//go:build linux

package escape

import "testing"

// composedJail asks for the jail that the maximum and cicd profiles use
// (SPEC 7.3): enableChroot without chrootDirectory, composed at launch from
// the host's system directories (read-only) and the working directories.
var composedJail = layer{"enableChroot": true}

// A file of the host outside the composed jail (beside the working
// directory, readable by everyone) does not exist in it; without the jail
// the same child reads it.
func TestEscape_ReadHostFileFromComposedJail_chroot(t *testing.T) {
	u := unprivilegedAdds(t, userNS, jailNeedsUserNS)
	e := newEnv(t)
	marker := hostMarker(t, e)
	r := e.attack(t, e.config(composedJail, u), probeBin, "read-file", marker)
	stopped(t, r, "ENOENT", "composed chroot: only /usr, /bin, /sbin, /lib*, /etc and the working directories are in it")
	escaped(t, e.attack(t, e.config(u), probeBin, "read-file", marker), "chroot")
}
