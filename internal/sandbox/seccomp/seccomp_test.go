package seccomp

import (
	"slices"
	"testing"

	"github.com/elastic/go-seccomp-bpf/arch"

	"github.com/mcp-process/mcp-process/internal/config"
)

func TestProfilesMatchConfig(t *testing.T) {
	got := slices.Sorted(slices.Values(Profiles()))
	want := slices.Sorted(slices.Values(config.SeccompProfiles))
	if !slices.Equal(got, want) {
		t.Fatalf("Profiles() = %v, config accepts %v", got, want)
	}
}

// Every name on every list must be a real system call on amd64 or arm64: a
// typo would silently leave a call unfiltered (deny lists) or break programs
// (allowlist).
func TestListNamesExist(t *testing.T) {
	lists := map[string][]string{
		"permissiveDenied": permissiveDenied, "moderateDenied": moderateDenied,
		"strictAllowed": strictAllowed, "conditional": append(conditionalAllowed, enosysCall),
	}
	// Names the brief-level Docker list carries for 32-bit ABIs only.
	legacy32 := []string{"chown32", "fchown32", "lchown32", "fcntl64", "fstat64", "fstatat64", "fstatfs64",
		"ftruncate64", "getegid32", "geteuid32", "getgid32", "getgroups32", "getresgid32", "getresuid32",
		"getuid32", "setfsgid32", "setfsuid32", "setgid32", "setgroups32", "setregid32", "setresgid32",
		"setresuid32", "setreuid32", "setuid32", "lstat64", "stat64", "statfs64", "truncate64", "mmap2",
		"_llseek", "_newselect", "fadvise64_64", "sendfile64", "ugetrlimit", "sigprocmask", "sigreturn",
		"socketcall", "ipc", "waitpid", "recv", "send", "stime", "umount", "clock_gettime64",
		"clock_getres_time64", "clock_nanosleep_time64", "futex_time64", "io_pgetevents_time64",
		"mq_timedreceive_time64", "mq_timedsend_time64", "ppoll_time64", "pselect6_time64",
		"recvmmsg_time64", "rt_sigtimedwait_time64", "sched_rr_get_interval_time64", "semtimedop_time64",
		"timer_gettime64", "timer_settime64", "timerfd_gettime64", "timerfd_settime64", "utimensat_time64"}
	for list, names := range lists {
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("%s lists %s twice", list, n)
			}
			seen[n] = true
			_, x86 := arch.X86_64.SyscallNames[n]
			_, a64 := arch.AARCH64.SyscallNames[n]
			_, i386 := arch.I386.SyscallNames[n]
			_, arm := arch.ARM.SyscallNames[n]
			if !x86 && !a64 && !(slices.Contains(legacy32, n) && (i386 || arm)) {
				t.Errorf("%s: %q is not a system call on amd64 or arm64", list, n)
			}
		}
	}
	// Calls both 64-bit ABIs must filter.
	for _, n := range []string{"mount", "umount2", "ptrace", "bpf", "kexec_load", "unshare", "setns",
		"clone", "clone3", "personality", "io_uring_setup", "execve", "execveat"} {
		if _, ok := arch.X86_64.SyscallNames[n]; !ok {
			t.Errorf("%s missing from the amd64 table", n)
		}
		if _, ok := arch.AARCH64.SyscallNames[n]; !ok {
			t.Errorf("%s missing from the arm64 table", n)
		}
	}
}

func TestDeniedAndAllowed(t *testing.T) {
	info := runningArch()
	has := func(n string) bool { _, ok := info.SyscallNames[n]; return ok }
	permissive, moderate, strict := Denied(Permissive), Denied(Moderate), Denied(Strict)
	mustPermissive := []string{"kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
		"reboot", "swapon", "swapoff", "mount", "umount", "umount2", "pivot_root", "ptrace", "process_vm_readv",
		"process_vm_writev", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd",
		"open_by_handle_at", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "stime",
		"quotactl", "quotactl_fd", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
		"mount_setattr"}
	mustModerate := []string{"unshare", "setns", "io_uring_enter", "io_uring_register", "clone3"}
	// io_uring_setup is the baseline's: refused by every program.
	for _, p := range []string{Baseline, Permissive, Moderate, Strict} {
		if !slices.Contains(Denied(p), "io_uring_setup") {
			t.Errorf("Denied(%q) lacks io_uring_setup, which every program refuses", p)
		}
	}
	if !slices.Equal(Denied(Baseline), []string{"io_uring_setup"}) {
		t.Errorf("Denied(baseline) = %v, want [io_uring_setup]", Denied(Baseline))
	}
	for _, n := range mustPermissive {
		if has(n) && !slices.Contains(permissive, n) {
			t.Errorf("permissive does not deny %s", n)
		}
	}
	for _, n := range permissive {
		if !slices.Contains(moderate, n) {
			t.Errorf("moderate does not keep permissive's denial of %s", n)
		}
	}
	for _, n := range mustModerate {
		if !slices.Contains(moderate, n) {
			t.Errorf("moderate does not deny %s", n)
		}
		if slices.Contains(permissive, n) {
			t.Errorf("permissive denies %s (a moderate-only denial)", n)
		}
	}
	if !slices.Equal(strict, moderate) {
		t.Errorf("Denied(strict) = %v, want moderate's list %v", strict, moderate)
	}
	allowed := Allowed(Strict)
	for _, n := range allowed {
		if slices.Contains(strict, n) {
			t.Errorf("strict allows %s, which it must deny", n)
		}
	}
	for _, n := range []string{"clone", "personality", "ptrace", "syslog", "vhangup", "chroot", "modify_ldt",
		"sethostname", "pidfd_getfd", "kcmp", "iopl", "ioperm"} {
		if slices.Contains(allowed, n) {
			t.Errorf("strict's unconditional allowlist has %s", n)
		}
	}
	for _, n := range []string{"execve", "execveat", "read", "write", "exit_group", "futex", "mmap", "rt_sigreturn",
		"wait4", "pipe2", "openat", "getdents64", "mknodat", "rseq", "fchmodat2"} {
		if !slices.Contains(allowed, n) {
			t.Errorf("strict does not allow %s", n)
		}
	}
	for _, n := range allowed {
		if !has(n) {
			t.Errorf("Allowed lists %s, which this architecture does not have", n)
		}
	}
	if Allowed(Moderate) != nil || Allowed(Permissive) != nil || Denied("paranoid") != nil || Allowed("paranoid") != nil {
		t.Error("lists for a profile that has none")
	}
}
