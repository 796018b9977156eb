//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

type capHeader struct {
	version uint32
	pid     int32
}

type capData struct {
	effective, permitted, inheritable uint32
}

// setCaps leaves the target exactly the capabilities of c.CapKeep that the
// stage has: everything else leaves the bounding set (when the stage holds
// CAP_SETPCAP, as a root server's or a user namespace's stage does; without
// it the stage has no capability to give anyway, and no_new_privs keeps
// execve from granting any), the ambient set is cleared, then effective,
// permitted and inheritable are set to the kept ones, which are raised in
// the ambient set so that they survive execve for any uid.
func setCaps(c *Config) *StepError {
	if c.Flags&FlagCaps == 0 {
		return nil
	}
	d, e := capGet()
	if e != 0 {
		return &StepError{Step: StepCaps, Errno: e, Detail: "capget"}
	}
	eff := uint64(d[0].effective) | uint64(d[1].effective)<<32
	perm := uint64(d[0].permitted) | uint64(d[1].permitted)<<32
	if eff&(1<<capSetpcap) != 0 {
		for cp := uintptr(0); cp < 64; cp++ {
			if c.CapKeep&(1<<cp) != 0 {
				continue
			}
			if _, e := rawSyscall6(nrPrctl, prCapbsetDrop, cp, 0, 0, 0, 0); e != 0 {
				if e == eINVAL {
					break // past the kernel's last capability
				}
				return &StepError{Step: StepCaps, Errno: e, Detail: "drop capability " + utoa(uint64(cp)) + " from the bounding set"}
			}
		}
	}
	if _, e := rawSyscall6(nrPrctl, prCapAmbient, prCapAmbientClear, 0, 0, 0, 0); e != 0 && e != eINVAL {
		return &StepError{Step: StepCaps, Errno: e, Detail: "clear the ambient set"}
	}
	keep := c.CapKeep & perm
	for i := range d {
		v := uint32(keep >> (32 * i))
		d[i] = capData{effective: v, permitted: v, inheritable: v}
	}
	if e := capSet(d); e != 0 {
		return &StepError{Step: StepCaps, Errno: e, Detail: "capset"}
	}
	for cp := uintptr(0); cp < 64; cp++ {
		if keep&(1<<cp) == 0 {
			continue
		}
		if _, e := rawSyscall6(nrPrctl, prCapAmbient, prCapAmbientRaise, cp, 0, 0, 0); e != 0 {
			return &StepError{Step: StepCaps, Errno: e, Detail: "raise capability " + utoa(uint64(cp)) + " in the ambient set"}
		}
	}
	return nil
}

// capGet returns the calling thread's capability sets (capget, version 3).
func capGet() ([2]capData, uintptr) {
	h := capHeader{version: capVersion3}
	var d [2]capData
	_, e := rawSyscall6(nrCapget, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&d[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&h)
	runtime.KeepAlive(&d)
	return d, e
}

// capSet sets the calling thread's capability sets (capset, version 3).
func capSet(d [2]capData) uintptr {
	h := capHeader{version: capVersion3}
	_, e := rawSyscall6(nrCapset, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&d[0])), 0, 0, 0, 0)
	runtime.KeepAlive(&h)
	runtime.KeepAlive(&d)
	return e
}
