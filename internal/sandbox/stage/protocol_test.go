package stage

import (
	"reflect"
	"strings"
	"testing"
)

func TestConfigRoundTrip(t *testing.T) {
	tests := []Config{
		{Rlimits: []Rlimit{}, Argv: []string{}, Env: []string{}, Writable: []string{}, Exec: []string{}, Private: []string{}, Keep: []string{}, Masked: []string{}, Dirs: []string{}, Sealed: []string{}, ComposeRO: []string{}, ComposeRW: []string{}, ComposeLinks: []string{}, HideRead: []string{}},
		{Flags: FlagScript, Rlimits: []Rlimit{{7, 16, 16}, {0, 5, 6}, {4, 0, 0}, {7, 1024, KeepMax}},
			Dir: "/tmp/work dir", Argv: []string{"ls", "-l", "", "ünïcode"}, Env: []string{"A=1", "EMPTY="}, Writable: []string{}, Exec: []string{}, Private: []string{}, Keep: []string{}, Masked: []string{}, Dirs: []string{}, Sealed: []string{}, ComposeRO: []string{}, ComposeRW: []string{}, ComposeLinks: []string{}, HideRead: []string{}},
		{Rlimits: []Rlimit{}, Argv: []string{strings.Repeat("x", 100000)}, Env: []string{}, Writable: []string{}, Exec: []string{}, Private: []string{}, Keep: []string{}, Masked: []string{}, Dirs: []string{}, Sealed: []string{}, ComposeRO: []string{}, ComposeRW: []string{}, ComposeLinks: []string{}, HideRead: []string{}},
		{Flags: FlagMountNS | FlagProc | FlagLoopback | FlagReadOnly | FlagCaps | FlagLandlock | FlagIdentity | FlagScope | FlagExecScope | FlagPrivate | FlagHideReads, Rlimits: []Rlimit{},
			Dir: "/work", Argv: []string{"id"}, Env: []string{}, Hostname: Hostname, Root: "/jail", TmpfsMB: 64,
			Writable: []string{"/out", "/cache"}, CapKeep: 1<<10 | 1<<40, Seccomp: []byte{1, 2, 3, 4, 5, 6, 7, 8},
			MACPath: "/proc/thread-self/attr/apparmor/exec", MACValue: "exec child",
			UID: 65534, GID: 1 << 31, Exec: []string{"/usr/bin/git", "/usr/lib/git-core/git-upload-pack"},
			Private: []string{"/tmp", "/run"}, Keep: []string{"/tmp/work"}, Masked: []string{"/home/u/.ssh"}, Dirs: []string{"/srv/a", "/srv/b"}, Sealed: []string{"/etc/mcp-process.json"},
			ComposeRO: []string{"/usr", "/etc"}, ComposeRW: []string{"/srv/a"}, ComposeLinks: []string{"/bin", "usr/bin"}, HideRead: []string{"/home/u/.ssh", "/data/u/.netrc"}},
	}
	for _, c := range tests {
		got, err := Decode(c.Encode())
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		if !reflect.DeepEqual(*got, c) {
			t.Fatalf("round trip %+v, want %+v", *got, c)
		}
		// The stage's decoding, whose strings share the received bytes,
		// gives the same config.
		b := c.Encode()
		aliased, err := decodePayload(b[headerSize:], true)
		if err != nil || !reflect.DeepEqual(*aliased, c) {
			t.Fatalf("aliased decoding %+v, %v; want %+v", aliased, err, c)
		}
	}
}

func TestDecodeRejectsMalformedConfigs(t *testing.T) {
	good := (&Config{Rlimits: []Rlimit{{7, 16, 16}}, Dir: "/", Argv: []string{"a"}, Env: []string{"B=2"}}).Encode()
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string][]byte{
		"empty":          nil,
		"short header":   good[:5],
		"bad magic":      mutate(func(b []byte) []byte { b[0] = 'X'; return b }),
		"other version":  mutate(func(b []byte) []byte { b[4] = version + 1; return b }),
		"truncated":      good[:len(good)-1],
		"trailing bytes": mutate(func(b []byte) []byte { b = append(b, 0); putU32(b[8:], getU32(b[8:])+1); return b }),
		"huge count": mutate(func(b []byte) []byte {
			putU32(b[headerSize+4:], 1<<30)
			return b
		}),
		"huge payload": mutate(func(b []byte) []byte { putU32(b[8:], MaxPayload+1); return b }),
	}
	for name, b := range tests {
		if c, err := Decode(b); err == nil {
			t.Errorf("%s: decoded %+v", name, c)
		}
	}
}

func TestStepErrorRoundTrip(t *testing.T) {
	tests := []StepError{
		{Step: StepRlimit, Errno: 1, Resource: 7, Max: 20000, Detail: "set RLIMIT_NOFILE to 30000/30000"},
		{Step: StepExec, Errno: 2, Resource: 0, Detail: "execveat"},
		{Step: StepGate, Detail: "the launch was withdrawn"},
	}
	for _, e := range tests {
		b := e.Encode()
		if b[0] != MsgError || ErrorSize([2]byte{b[1], b[2]}) != len(b)-3 {
			t.Fatalf("framing of %x", b)
		}
		got, err := DecodeError(b[3:])
		if err != nil || *got != e {
			t.Fatalf("round trip %+v (%v), want %+v", got, err, e)
		}
	}
	long := StepError{Step: StepChdir, Detail: strings.Repeat("d", 5000)}
	if got, _ := DecodeError(long.Encode()[3:]); got == nil || len(got.Detail) != 1024 {
		t.Fatal("a long detail is not capped")
	}
	if _, err := DecodeError([]byte{1, 2, 3}); err == nil {
		t.Fatal("decoded a truncated error")
	}
	if s := tests[0].Error(); !strings.Contains(s, "rlimit") || !strings.Contains(s, "errno 1") {
		t.Fatalf("Error() = %q", s)
	}
}

func TestUtoa(t *testing.T) {
	for v, want := range map[uint64]string{0: "0", 7: "7", 20000: "20000", ^uint64(0): "18446744073709551615"} {
		if got := utoa(v); got != want {
			t.Errorf("utoa(%d) = %q", v, got)
		}
	}
}

func TestKeeperRoundTrip(t *testing.T) {
	for _, pid := range []uint32{0, 1, 4194304, 1<<31 - 1} {
		b := EncodeKeeper(pid)
		if got, ok := DecodeKeeper(b); !ok || got != int(pid) {
			t.Fatalf("DecodeKeeper(EncodeKeeper(%d)) = %d, %v", pid, got, ok)
		}
	}
	if _, ok := DecodeKeeper([KeeperSize]byte{MsgReady}); ok {
		t.Fatal("DecodeKeeper accepted another message")
	}
}

// SetGroups marks a config of this version with at most MaxGroupFDs
// cgroup descriptors, in the header's groups byte, and nothing else.
func TestSetGroups(t *testing.T) {
	b := (&Config{Argv: []string{"x"}}).Encode()
	orig := append([]byte(nil), b...)
	for _, n := range []int{-1, MaxGroupFDs + 1} {
		if SetGroups(b, n) {
			t.Fatalf("SetGroups(%d) accepted", n)
		}
	}
	if !SetGroups(b, 3) || b[groupsAt] != 3 {
		t.Fatalf("SetGroups(3): header %v", b[:headerSize])
	}
	b[groupsAt] = orig[groupsAt]
	if string(b) != string(orig) {
		t.Fatal("SetGroups changed more than its byte")
	}
	if _, err := Decode(b); err != nil {
		t.Fatal(err)
	}
	old := append([]byte(nil), b...)
	old[4] = version - 1
	if SetGroups(old, 1) {
		t.Fatal("SetGroups marked a config of another version")
	}
}
