//go:build linux

package escape

import "testing"

// AF_VSOCK reaches the hypervisor and other VMs (on this host, a
// Firecracker VM, the host's vsock services) past any network namespace:
// every seccomp profile refuses socket(AF_VSOCK) with EPERM (SPEC 7.1).
// The baseline without seccomp gets a socket where the host has vsock (as
// here), or fails with another errno (EAFNOSUPPORT without the vsock
// module): the EPERM is then still the filter's, never the kernel's.
func TestEscape_SocketVsock_seccomp(t *testing.T) {
	eitherServer(t)
	for _, p := range []layer{permissve, moderate, strict} {
		t.Run(p["seccompProfile"].(string), func(t *testing.T) {
			e := newEnv(t)
			r := e.attack(t, e.config(p), probeBin, "socket-vsock")
			stopped(t, r, "EPERM", "seccomp ("+p["seccompProfile"].(string)+")")
			b := e.attack(t, e.config(), probeBin, "socket-vsock")
			if b.OK {
				escaped(t, b, "seccomp")
				return
			}
			otherErrno(t, b, "EPERM", "seccomp (this host has no usable vsock)")
		})
	}
}
