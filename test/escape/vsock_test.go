//go:build linux

package escape

import "testing"

// AF_VSOCK reaches the hypervisor and other VMs (on this host, a
// Firecracker VM, the host's vsock services) past any network namespace:
// every seccomp profile refuses socket(AF_VSOCK) with EPERM (SPEC 7.1), and
// so does the seccomp baseline every child gets without a profile. The
// baseline of the test, the probe run directly as the children's uid (no
// configuration turns the seccomp baseline off), gets a socket where the
// host has vsock (as here), or fails with another errno (EAFNOSUPPORT
// without the vsock module): the EPERM is then still the filter's, never
// the kernel's.
func TestEscape_SocketVsock_seccomp(t *testing.T) {
	eitherServer(t)
	for _, p := range []layer{permissve, moderate, strict, {}, {"allowUnixSockets": true}} {
		name, _ := p["seccompProfile"].(string)
		if name == "" {
			name = "baseline"
			if p["allowUnixSockets"] == true {
				name += " with allowUnixSockets"
			}
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			r := e.attack(t, e.config(p), probeBin, "socket-vsock")
			stopped(t, r, "EPERM", "seccomp ("+name+")")
			b := direct(t, asChildUser(probe("socket-vsock")))
			if b.OK {
				escaped(t, b, "seccomp (the probe run directly as the children's uid)")
				return
			}
			otherErrno(t, b, "EPERM", "seccomp (the probe run directly as the children's uid; this host has no usable vsock)")
		})
	}
}
