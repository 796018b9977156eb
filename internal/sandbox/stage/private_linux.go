//go:build linux

package stage

import (
	"runtime"
	"unsafe"
)

// setupPrivate gives the child the private view of SPEC 7.1a, in its own
// mount namespace (every mount already private), before the jail is
// entered; root is "/" or the jail:
//
//  1. the directories of c.Keep, and the launch's working directory, that
//     lie beneath one of c.Private are opened (openBeneath: by descriptor,
//     no symbolic link in any component: a link planted by an earlier child
//     cannot redirect what is bound back);
//  2. each of c.Private that exists gets an empty tmpfs (coverPrivate):
//     the host's sockets (D-Bus, systemd, Docker, agents) and files there
//     are out of sight;
//  3. each kept directory is bound back at its path, recursively, as it is
//     on the host (bindBack: read-only where the host's, or the read-only
//     pass's, mount is);
//  4. each of c.Sealed (the policy's files) that exists is bound
//     read-only onto itself (seal): no child can change the policy;
//  5. each of c.Masked that exists is hidden (mask).
//
// Every failure is fatal: the target never runs with a partial view.
func setupPrivate(c *Config, root string) *StepError {
	if c.Flags&FlagPrivate == 0 {
		return nil
	}
	kept, err := openBeneath(StepPrivate, root, c.Private, append(c.Keep, c.Dir))
	defer closeKept(kept)
	if err != nil {
		return err
	}
	for _, d := range c.Private {
		if err := coverPrivate(join(root, d), root != "/"); err != nil {
			return err
		}
	}
	if err := bindBack(StepPrivate, kept); err != nil {
		return err
	}
	for _, s := range c.Sealed {
		if err := seal(join(root, s)); err != nil {
			return err
		}
	}
	for _, m := range c.Masked {
		if err := mask(join(root, m)); err != nil {
			return err
		}
	}
	return nil
}

// coverPrivate mounts an empty tmpfs (mode 1777, nosuid, nodev) on the
// directory p; an absent p is skipped, as is, in a jail, a link (/var/run ->
// /run), whose target, when it is one of c.Private, gets its own tmpfs. On
// the host c.Private are real paths, resolved at the server's start: one
// that became a link since fails the launch.
func coverPrivate(p string, jail bool) *StepError {
	fd, e := sysOpenNoSymlinks(p, oPath|oCLOEXEC|oDirectory)
	if e == eNOENT || (e == eLOOP && jail) {
		return nil
	}
	if e != 0 {
		return &StepError{Step: StepPrivate, Errno: e, Detail: "open " + p}
	}
	e = sysMount("tmpfs", "/proc/self/fd/"+utoa(uint64(fd)), "tmpfs", msNosuid|msNodev, "mode=1777")
	sysClose(fd)
	if e != 0 {
		return &StepError{Step: StepPrivate, Errno: e, Detail: "mount a private tmpfs on " + p}
	}
	return nil
}

// mask hides p: a directory under an empty read-only tmpfs of mode 000,
// anything else (a file, a socket, a device) under /dev/null bound
// read-only. An absent p is skipped, as is one
// beneath a directory the stage may not search (a root server's /root seen
// from a user namespace): the child, which has less, cannot reach it
// either.
func mask(p string) *StepError {
	fd, e := sysOpen(p, oPath|oCLOEXEC)
	if e == eNOENT || e == eACCES {
		return nil
	}
	if e != 0 {
		return &StepError{Step: StepPrivate, Errno: e, Detail: "open " + p + " to hide it"}
	}
	// The kind of what was opened (not of what the path names by now): a
	// directory gets an empty tmpfs, anything else /dev/null bound.
	kind, e := fileType(fd)
	if e != 0 {
		sysClose(fd)
		return &StepError{Step: StepPrivate, Errno: e, Detail: "statx " + p + " to hide it"}
	}
	at := "/proc/self/fd/" + utoa(uint64(fd))
	if kind == sIFDIR {
		e = sysMount("tmpfs", at, "tmpfs", msRdonly|msNosuid|msNodev|msNoexec, "mode=000,size=4k")
	} else {
		e = sysMount("/dev/null", at, "", msBind, "")
		if e == 0 {
			e = sysMount("", p, "", msRemount|msBind|msRdonly|msNosuid|msNodev|msNoexec, "")
		}
	}
	sysClose(fd)
	if e != 0 {
		return &StepError{Step: StepPrivate, Errno: e, Detail: "hide " + p}
	}
	return nil
}

// seal binds p read-only onto itself; an absent p is skipped. A file
// replaced (renamed over, as the audit log's head is every second) between
// its open and the bind is opened again, once: the bind of a file that is
// no longer linked fails with ENOENT. One replaced between the bind and the
// read-only remount (by path: it then names no mount, EINVAL; the kernel
// detached the bind with the old file) is sealed again from its open, once.
// A file replaced again before the bind of that second try (the bind
// fails with ENOENT: the file is no longer linked) is left unsealed, not
// the launch failed: it is being replaced as the launch starts, and the
// next replacement would detach its seal anyway (docs/filesystem.md:
// Landlock and the files' placement, not the seals, keep the policy out of
// reach). Any other failure, a second EINVAL of the remount included
// (which a persistent refusal would give as well), fails the launch.
func seal(p string) *StepError {
	remounts := 0
	for try := 0; ; try++ {
		fd, e := sysOpen(p, oPath|oCLOEXEC)
		if e == eNOENT || e == eACCES {
			return nil // absent, or out of the child's reach anyway
		}
		if e != 0 {
			return &StepError{Step: StepPrivate, Errno: e, Detail: "open " + p + " to seal it"}
		}
		e = sysMount("/proc/self/fd/"+utoa(uint64(fd)), p, "", msBind, "")
		sysClose(fd)
		if e == eNOENT {
			if try == 0 {
				continue
			}
			return nil // replaced again: see above
		}
		if e == 0 {
			// By path: the descriptor still names the mount beneath.
			e = sysMount("", p, "", msRemount|msBind|msRdonly, "")
			if e == eINVAL && remounts == 0 {
				remounts++
				continue
			}
		}
		if e != 0 {
			return &StepError{Step: StepPrivate, Errno: e, Detail: "seal " + p + " read-only"}
		}
		return nil
	}
}

// beneathAny reports whether p is one of dirs or lies beneath one.
func beneathAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || (len(p) > len(d) && p[:len(d)] == d && (d == "/" || p[len(d)] == '/')) {
			return true
		}
	}
	return false
}

// mkdirAll creates p and its missing parents (mode 0755) in the private
// tmpfs it lies beneath.
func mkdirAll(p string) uintptr {
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		b := cstring(p[:i])
		_, e := rawSyscall6(nrMkdirat, atFDCWD, uintptr(unsafe.Pointer(&b[0])), 0o755, 0, 0, 0)
		runtime.KeepAlive(b)
		if e != 0 && e != eEXIST {
			return e
		}
	}
	return 0
}
