//go:build linux

package cgroup

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	mountinfoHybrid = `22 27 0:21 / /proc rw,relatime - proc proc rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	mountinfoPureV2 = `25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/root rw
35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	// Docker with a private cgroup namespace on a v1 host: roots are "/".
	mountinfoDockerV1NS = `700 690 0:60 / /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
701 700 0:29 / /sys/fs/cgroup/cpu,cpuacct ro,nosuid,nodev,noexec,relatime master:11 - cgroup cgroup rw,cpu,cpuacct
702 700 0:32 / /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime master:14 - cgroup cgroup rw,memory
703 700 0:36 / /sys/fs/cgroup/pids rw,nosuid,nodev,noexec,relatime master:18 - cgroup cgroup rw,pids
`
	// Docker without a cgroup namespace: the mount root is the container's group.
	mountinfoDockerV1Host = `702 700 0:32 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
704 700 0:40 /docker/abc /sys/fs/cgroup/my\040dir rw - cgroup cgroup rw,noprefix,release_agent=/x,pids
`
)

func TestParseMountInfo(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []mountEntry
	}{
		{"hybrid", mountinfoHybrid, []mountEntry{
			{Root: "/", Point: "/sys/fs/cgroup/cpu", Ctrls: []string{"cpu"}},
			{Root: "/", Point: "/sys/fs/cgroup/cpuacct", Ctrls: []string{"cpuacct"}},
			{Root: "/", Point: "/sys/fs/cgroup/memory", Ctrls: []string{"memory"}},
			{Root: "/", Point: "/sys/fs/cgroup/freezer", Ctrls: []string{"freezer"}},
			{Root: "/", Point: "/sys/fs/cgroup/pids", Ctrls: []string{"pids"}},
			{Root: "/", Point: "/sys/fs/cgroup/systemd", Ctrls: []string{"name=systemd"}},
			{Root: "/", Point: "/sys/fs/cgroup/unified", V2: true},
		}},
		{"pure v2", mountinfoPureV2, []mountEntry{
			{Root: "/", Point: "/sys/fs/cgroup", V2: true},
		}},
		{"docker v1 cgroupns", mountinfoDockerV1NS, []mountEntry{
			{Root: "/", Point: "/sys/fs/cgroup/cpu,cpuacct", Ctrls: []string{"cpu", "cpuacct"}},
			{Root: "/", Point: "/sys/fs/cgroup/memory", Ctrls: []string{"memory"}},
			{Root: "/", Point: "/sys/fs/cgroup/pids", Ctrls: []string{"pids"}},
		}},
		{"docker v1 host paths, escaped space", mountinfoDockerV1Host, []mountEntry{
			{Root: "/docker/abc", Point: "/sys/fs/cgroup/memory", Ctrls: []string{"memory"}},
			{Root: "/docker/abc", Point: "/sys/fs/cgroup/my dir", Ctrls: []string{"pids"}},
		}},
		{"garbage", "no dash here\n1 2 3 - cgroup\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseMountInfo([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseProcCgroup(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want procCgroup
	}{
		{"hybrid", "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/1af9\n2:cpuacct:/\n1:cpu:/\n0::/\n", procCgroup{
			V2: "/", HasV2: true,
			V1: map[string]string{"name=systemd": "/", "pids": "/", "memory": "/process_api/1af9", "cpuacct": "/", "cpu": "/"},
		}},
		{"pure v2", "0::/system.slice/mcp.service\n", procCgroup{V2: "/system.slice/mcp.service", HasV2: true, V1: map[string]string{}}},
		{"v1 cgroupns co-mounted", "3:cpu,cpuacct:/\n2:memory:/\n1:pids:/\n", procCgroup{
			V1: map[string]string{"cpu": "/", "cpuacct": "/", "memory": "/", "pids": "/"},
		}},
		{"path with colon", "0::/a:b\n", procCgroup{V2: "/a:b", HasV2: true, V1: map[string]string{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseProcCgroup([]byte(tc.in)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGroupDir(t *testing.T) {
	for _, tc := range []struct {
		root, point, own string
		want             string
		ok               bool
	}{
		{"/", "/sys/fs/cgroup/memory", "/process_api/x", "/sys/fs/cgroup/memory/process_api/x", true},
		{"/", "/sys/fs/cgroup", "/", "/sys/fs/cgroup", true},
		{"/docker/abc", "/sys/fs/cgroup/memory", "/docker/abc", "/sys/fs/cgroup/memory", true},
		{"/docker/abc", "/sys/fs/cgroup/memory", "/docker/abc/sub", "/sys/fs/cgroup/memory/sub", true},
		{"/docker/abc", "/sys/fs/cgroup/memory", "/docker/abcd", "", false},
		{"/docker/abc", "/sys/fs/cgroup/memory", "/", "", false},
	} {
		got, ok := groupDir(mountEntry{Root: tc.root, Point: tc.point}, tc.own)
		if got != tc.want || ok != tc.ok {
			t.Errorf("groupDir(root %s, point %s, own %s) = %q, %v; want %q, %v", tc.root, tc.point, tc.own, got, ok, tc.want, tc.ok)
		}
	}
}

func TestKeyedValue(t *testing.T) {
	data := []byte("usage_usec 1234\nuser_usec 1000\noom_kill 7\npopulated 1")
	for key, want := range map[string]int64{"usage_usec": 1234, "oom_kill": 7, "populated": 1} {
		if got, ok := keyedValue(data, key); !ok || got != want {
			t.Errorf("keyedValue(%s) = %d, %v; want %d", key, got, ok, want)
		}
	}
	if _, ok := keyedValue(data, "usage"); ok {
		t.Error("a key prefix matched")
	}
}

// readCtl reads a control file whole, however long, with no stat.
func TestReadCtlReadsWhole(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 70000} {
		want := strings.Repeat("x", n)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := readCtl(p)
		if err != nil || string(got) != want {
			t.Fatalf("readCtl of %d bytes: %d bytes, %v", n, len(got), err)
		}
	}
	if _, err := readCtl(filepath.Join(dir, "missing")); !isNotExist(err) {
		t.Fatalf("readCtl of a missing file: %v, want not-exist", err)
	}
}
