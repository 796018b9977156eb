//go:build linux

package policy

import (
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// BenchmarkSyscallFloor is what the system calls of a decision cost on
// this machine without the policy around them: a bare getppid (the cost
// of entering the kernel at all), each kind of call BenchmarkEvaluate
// makes, and its whole sequence of nine (a searchPath miss; the
// executable's openat2, fstat, close, then open, read and close of its
// first 256 bytes; the working directory's openat2 and close). The
// difference between BenchmarkEvaluate and "decision-sequence" is the
// policy's own work (docs/performance.md).
func BenchmarkSyscallFloor(b *testing.B) {
	exe := "/usr/bin/echo"
	if _, err := unix.Openat2(unix.AT_FDCWD, exe, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC}); err != nil {
		b.Skipf("openat2 of %s: %v", exe, err)
	}
	dir := b.TempDir()
	noLinks := uint64(unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS)
	pathOf := func(p string, flags uint64) int {
		fd, _ := unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: noLinks})
		return fd
	}
	var st syscall.Stat_t
	var head [256]byte
	readHead := func() {
		fd, _ := syscall.Open(exe, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		syscall.Read(fd, head[:])
		syscall.Close(fd)
	}
	cases := []struct {
		name string
		f    func()
	}{
		{"getppid", func() { syscall.Getppid() }},
		{"fstat", func() { syscall.Fstat(0, &st) }},
		{"openat2-miss", func() { pathOf("/usr/local/bin/echo", unix.O_PATH) }},
		{"openat2-close", func() { unix.Close(pathOf(exe, unix.O_PATH)) }},
		{"open-read-close", readHead},
		{"decision-sequence", func() {
			pathOf("/usr/local/bin/echo", unix.O_PATH)
			fd := pathOf(exe, unix.O_PATH)
			syscall.Fstat(fd, &st)
			unix.Close(fd)
			readHead()
			unix.Close(pathOf(dir, unix.O_PATH|unix.O_DIRECTORY))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) { loopTimed(b, c.f) })
	}
}
