//go:build linux

package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/mcp-process/mcp-process/internal/errcode"
)

// fakePid is the "server" of the fake trees (never signalled: the fake
// trees never list a real process as a member when Kill runs).
const fakePid = 4242

// fakeFS is a cgroupfs made of regular files in a temp dir. mkdir creates
// the control files the kernel would, writes to missing files fail with
// ENOENT, cgroup.procs writes move a pid, subtree_control writes follow the
// kernel's rules (including the v2 "no internal processes" EBUSY), and rmdir
// of a populated group fails with EBUSY.
type fakeFS struct {
	t      *testing.T
	root   string
	v2     string              // v2 mount dir, "" if none
	v1     map[string][]string // v1 mount dir -> controllers
	noSwap bool                // v1: no memory.memsw.*; v2: no memory.swap.max
	fail   map[string]error    // base name -> error every write to it returns
	writes []string            // "rel/path=data" log
}

func newFakeFS(t *testing.T) *fakeFS {
	return &fakeFS{t: t, root: t.TempDir(), v1: map[string][]string{}, fail: map[string]error{}}
}

func (f *fakeFS) ops() *fsOps {
	return &fsOps{mkdir: f.mkdir, rmdir: f.rmdir, write: f.write}
}

func (f *fakeFS) rel(p string) string {
	r, _ := filepath.Rel(f.root, p)
	return r
}

func (f *fakeFS) put(p, data string) {
	f.t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeFS) get(p string) string {
	f.t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatalf("read %s: %v", f.rel(p), err)
	}
	return strings.TrimSpace(string(b))
}

// mountOf returns the mount dir p lies in and whether it is the v2 one.
func (f *fakeFS) mountOf(p string) (string, bool) {
	if f.v2 != "" && (p == f.v2 || strings.HasPrefix(p, f.v2+"/")) {
		return f.v2, true
	}
	for m := range f.v1 {
		if p == m || strings.HasPrefix(p, m+"/") {
			return m, false
		}
	}
	f.t.Fatalf("%s is in no fake mount", p)
	return "", false
}

// addV2 makes a v2 mount at rel with the root's available controllers.
func (f *fakeFS) addV2(rel string, ctrls string) string {
	dir := filepath.Join(f.root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.v2 = dir
	f.populate(dir, true, nil)
	f.put(dir+"/cgroup.controllers", ctrls)
	return dir
}

func (f *fakeFS) addV1(rel string, ctrls ...string) string {
	dir := filepath.Join(f.root, rel)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.t.Fatal(err)
	}
	f.v1[dir] = ctrls
	f.populate(dir, false, ctrls)
	return dir
}

func (f *fakeFS) populate(dir string, v2 bool, v1ctrls []string) {
	files := map[string]string{"cgroup.procs": ""}
	if v2 {
		parentCtl := ""
		if b, err := os.ReadFile(filepath.Dir(dir) + "/cgroup.subtree_control"); err == nil {
			parentCtl = strings.TrimSpace(string(b))
		}
		files["cgroup.controllers"] = parentCtl
		files["cgroup.subtree_control"] = ""
		files["cgroup.events"] = "populated 0\nfrozen 0\n"
		files["cgroup.kill"] = ""
		files["cgroup.freeze"] = "0"
		files["cpu.stat"] = "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"
		for _, c := range strings.Fields(parentCtl) {
			switch c {
			case "memory":
				files["memory.max"] = "max"
				if !f.noSwap {
					files["memory.swap.max"] = "max"
				}
				files["memory.oom.group"] = "0"
				files["memory.current"] = "0"
				files["memory.events"] = "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n"
			case "pids":
				files["pids.max"] = "max"
				files["pids.current"] = "0"
			case "cpu":
				files["cpu.max"] = "max 100000"
			}
		}
	}
	for _, c := range v1ctrls {
		switch c {
		case "memory":
			files["memory.limit_in_bytes"] = "9223372036854771712"
			if !f.noSwap {
				files["memory.memsw.limit_in_bytes"] = "9223372036854771712"
			}
			files["memory.usage_in_bytes"] = "0"
			files["memory.oom_control"] = "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"
			files["cgroup.event_control"] = ""
		case "pids":
			files["pids.max"] = "max"
			files["pids.current"] = "0"
		case "cpu":
			files["cpu.cfs_period_us"] = "100000"
			files["cpu.cfs_quota_us"] = "-1"
		case "cpuacct":
			files["cpuacct.usage"] = "0"
		case "freezer":
			files["freezer.state"] = "THAWED"
		}
	}
	for n, v := range files {
		f.put(filepath.Join(dir, n), v)
	}
}

func (f *fakeFS) mkdir(p string) error {
	if err := os.Mkdir(p, 0o755); err != nil {
		return err
	}
	m, v2 := f.mountOf(p)
	f.populate(p, v2, f.v1[m])
	return nil
}

// mkGroup creates a group below a mount the way a host's init would.
func (f *fakeFS) mkGroup(p string) {
	f.t.Helper()
	if err := f.mkdir(p); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fakeFS) hasProcs(dir string) bool {
	b, _ := os.ReadFile(dir + "/cgroup.procs")
	return len(strings.TrimSpace(string(b))) > 0
}

func (f *fakeFS) write(p, data string) error {
	f.writes = append(f.writes, f.rel(p)+"="+data)
	if err := f.fail[filepath.Base(p)]; err != nil {
		return &fs.PathError{Op: "write", Path: p, Err: err}
	}
	if _, err := os.Stat(p); err != nil {
		return &fs.PathError{Op: "open", Path: p, Err: unix.ENOENT}
	}
	dir, base := filepath.Dir(p), filepath.Base(p)
	m, v2 := f.mountOf(p)
	switch base {
	case "cgroup.procs":
		if v2 && dir != f.v2 && f.get(dir+"/cgroup.subtree_control") != "" {
			return &fs.PathError{Op: "write", Path: p, Err: unix.EBUSY}
		}
		// Move: take the pid out of every group of this mount.
		_ = filepath.WalkDir(m, func(q string, d fs.DirEntry, err error) error {
			if err == nil && d.Name() == "cgroup.procs" {
				var keep []string
				for _, x := range strings.Fields(f.get(q)) {
					if x != strings.TrimSpace(data) {
						keep = append(keep, x)
					}
				}
				f.put(q, strings.Join(keep, "\n"))
			}
			return nil
		})
		old := f.get(p)
		if old != "" {
			old += "\n"
		}
		f.put(p, old+strings.TrimSpace(data))
		return nil
	case "cgroup.subtree_control":
		avail := strings.Fields(f.get(dir + "/cgroup.controllers"))
		set := map[string]bool{}
		for _, c := range strings.Fields(f.get(p)) {
			set[c] = true
		}
		adding := false
		for _, tok := range strings.Fields(data) {
			c := tok[1:]
			if !slices.Contains(avail, c) {
				return &fs.PathError{Op: "write", Path: p, Err: unix.ENOENT}
			}
			if tok[0] == '+' {
				adding = adding || !set[c]
				set[c] = true
			} else {
				delete(set, c)
			}
		}
		if adding && dir != f.v2 && f.hasProcs(dir) {
			return &fs.PathError{Op: "write", Path: p, Err: unix.EBUSY}
		}
		var out []string
		for c := range set {
			out = append(out, c)
		}
		sort.Strings(out)
		f.put(p, strings.Join(out, " "))
		return nil
	}
	f.put(p, data)
	return nil
}

func (f *fakeFS) rmdir(p string) error {
	if _, err := os.Stat(p); err != nil {
		return &fs.PathError{Op: "rmdir", Path: p, Err: unix.ENOENT}
	}
	ents, _ := os.ReadDir(p)
	for _, e := range ents {
		if e.IsDir() {
			return &fs.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
		}
	}
	if f.hasProcs(p) {
		return &fs.PathError{Op: "rmdir", Path: p, Err: unix.EBUSY}
	}
	return os.RemoveAll(p)
}

// detect runs Detect on the fake tree with the given /proc/self/cgroup and
// the mountinfo built from the fake mounts.
func (f *fakeFS) detect(procCgroup string) *Manager {
	f.t.Helper()
	var mi strings.Builder
	id := 30
	if f.v2 != "" {
		mi.WriteString(strconv.Itoa(id) + " 23 0:26 / " + f.v2 + " rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n")
	}
	var v1 []string
	for m := range f.v1 {
		v1 = append(v1, m)
	}
	sort.Strings(v1)
	for _, m := range v1 {
		id++
		mi.WriteString(strconv.Itoa(id) + " 23 0:3" + strconv.Itoa(id%10) + " / " + m + " rw,nosuid,nodev,noexec,relatime shared:9 - cgroup cgroup rw," + strings.Join(f.v1[m], ",") + "\n")
	}
	mi.WriteString("22 27 0:21 / /proc rw,relatime - proc proc rw\n")
	dir := f.t.TempDir()
	f.put(dir+"/mountinfo", mi.String())
	f.put(dir+"/cgroup", procCgroup)
	m, err := Detect(DetectOptions{
		Root: f.root, MountInfo: dir + "/mountinfo", ProcSelfCgroup: dir + "/cgroup",
		Prefix: "mcp", ops: f.ops(), pid: fakePid,
	})
	if err != nil {
		f.t.Fatalf("Detect: %v", err)
	}
	return m
}

func (f *fakeFS) logged(entry string) bool { return slices.Contains(f.writes, entry) }

// pureV2 builds a systemd-like pure v2 host where the server runs in
// /system.slice/mcp.service with memory, pids and cpu delegated.
func pureV2(t *testing.T) (*fakeFS, string) {
	f := newFakeFS(t)
	root := f.addV2("cg", "cpuset cpu io memory hugetlb pids")
	if err := f.write(root+"/cgroup.subtree_control", "+cpu +memory +pids"); err != nil {
		t.Fatal(err)
	}
	f.mkGroup(root + "/system.slice")
	if err := f.write(root+"/system.slice/cgroup.subtree_control", "+cpu +memory +pids"); err != nil {
		t.Fatal(err)
	}
	own := root + "/system.slice/mcp.service"
	f.mkGroup(own)
	f.put(own+"/cgroup.procs", strconv.Itoa(fakePid))
	return f, own
}

func TestFakePureV2Delegated(t *testing.T) {
	f, own := pureV2(t)
	m := f.detect("0::/system.slice/mcp.service\n")
	s := m.Support()
	if s.Version != "v2" || !s.Memory || !s.Pids || !s.CPU || !s.CPUUsage || !s.Kill || len(s.Reasons) != 0 {
		t.Fatalf("Support = %+v, want v2 with everything", s)
	}
	// The server moved itself into a leaf so the controllers could be enabled.
	leaf := own + "/mcp-server"
	if got := f.get(leaf + "/cgroup.procs"); got != strconv.Itoa(fakePid) {
		t.Fatalf("leaf cgroup.procs = %q, want the server", got)
	}
	if got := f.get(own + "/cgroup.procs"); got != "" {
		t.Fatalf("own cgroup.procs = %q, want empty", got)
	}
	if got := f.get(own + "/cgroup.subtree_control"); got != "cpu memory pids" {
		t.Fatalf("own subtree_control = %q", got)
	}
	parent := own + "/mcp"
	if got := f.get(parent + "/cgroup.subtree_control"); got != "cpu memory pids" {
		t.Fatalf("parent subtree_control = %q", got)
	}

	g, err := m.New("launch-1", Limits{MemoryBytes: 64 << 20, Pids: 16, CPUPercent: 25})
	if err != nil {
		t.Fatal(err)
	}
	dir := parent + "/launch-1"
	for file, want := range map[string]string{
		"memory.max":       strconv.Itoa(64 << 20),
		"memory.swap.max":  "0",
		"memory.oom.group": "1",
		"pids.max":         "16",
		"cpu.max":          "25000 100000",
	} {
		if got := f.get(dir + "/" + file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	for _, tc := range []struct {
		n    int64
		want string
	}{{3, "3"}, {0, "max"}, {16, "16"}} {
		if err := g.SetPids(tc.n); err != nil {
			t.Fatal(err)
		}
		if got := f.get(dir + "/pids.max"); got != tc.want {
			t.Errorf("after SetPids(%d) pids.max = %q, want %q", tc.n, got, tc.want)
		}
	}
	if got := g.Paths(); len(got) != 1 || got[0] != dir {
		t.Fatalf("Paths = %v, want [%s]", got, dir)
	}
	if err := g.Join(777); err != nil {
		t.Fatal(err)
	}
	if got := f.get(dir + "/cgroup.procs"); got != "777" {
		t.Fatalf("cgroup.procs = %q after Join", got)
	}
	fd, err := g.FD()
	if err != nil {
		t.Fatalf("FD: %v", err)
	}
	unix.Close(fd)

	f.put(dir+"/memory.current", "12345")
	f.put(dir+"/pids.current", "3")
	f.put(dir+"/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 1\n")
	f.put(dir+"/cpu.stat", "usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n")
	f.put(dir+"/cgroup.events", "populated 1\nfrozen 0\n")
	st, err := g.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if want := (Stats{MemoryBytes: 12345, CPUUsage: 1500 * 1e6, Pids: 3, OOMKills: 2}); st != want {
		t.Fatalf("Stats = %+v, want %+v", st, want)
	}
	if pop, err := g.Populated(); err != nil || !pop {
		t.Fatalf("Populated = %v, %v", pop, err)
	}

	// Kill writes cgroup.kill; the "kernel" empties the group.
	f.put(dir+"/cgroup.procs", "")
	f.put(dir+"/cgroup.events", "populated 0\nfrozen 0\n")
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if !f.logged(f.rel(dir) + "/cgroup.kill=1") {
		t.Fatalf("Kill did not write cgroup.kill: %v", f.writes)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, p := range []string{dir, parent, leaf} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still exists after Close", f.rel(p))
		}
	}
	if got := f.get(own + "/cgroup.procs"); got != strconv.Itoa(fakePid) {
		t.Errorf("server not moved back: own cgroup.procs = %q", got)
	}
	if got := f.get(own + "/cgroup.subtree_control"); got != "" {
		t.Errorf("own subtree_control = %q after Close, want what it was", got)
	}
}

func TestFakeV2AlreadyEnabledNoMove(t *testing.T) {
	f, own := pureV2(t)
	// A delegated group whose manager already keeps the server in a leaf.
	f.put(own+"/cgroup.procs", "")
	if err := f.write(own+"/cgroup.subtree_control", "+cpu +memory +pids"); err != nil {
		t.Fatal(err)
	}
	f.mkGroup(own + "/main")
	if err := f.write(own+"/main/cgroup.procs", strconv.Itoa(fakePid)); err != nil {
		t.Fatal(err)
	}
	m := f.detect("0::/system.slice/mcp.service/main\n")
	// The server's own group is now .../main, which has processes and no
	// controllers to hand down: .../main is itself a leaf.
	s := m.Support()
	if s.Version != "v2" || !s.Memory || !s.Pids || !s.CPU {
		t.Fatalf("Support = %+v", s)
	}
	if _, err := os.Stat(own + "/main/mcp-server"); err != nil {
		t.Fatalf("expected the server to move into a leaf below its own group: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	// Own group with controllers enabled already and no processes of its
	// own (the server is listed elsewhere): nothing is moved.
	f2, own2 := pureV2(t)
	f2.put(own2+"/cgroup.procs", "")
	if err := f2.write(own2+"/cgroup.subtree_control", "+cpu +memory +pids"); err != nil {
		t.Fatal(err)
	}
	before := len(f2.writes)
	m2 := f2.detect("0::/system.slice/mcp.service\n")
	if s := m2.Support(); s.Version != "v2" || !s.Memory || !s.Pids || !s.CPU {
		t.Fatalf("Support = %+v", s)
	}
	if _, err := os.Stat(own2 + "/mcp-server"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a server leaf was created although nothing needed moving")
	}
	for _, w := range f2.writes[before:] {
		if strings.Contains(w, "mcp.service/cgroup.subtree_control=") || strings.Contains(w, "cgroup.procs=") {
			t.Errorf("Detect wrote %s although the controllers were enabled and the group empty", w)
		}
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFakeV2OtherProcessesInOwnGroup(t *testing.T) {
	f, own := pureV2(t)
	f.put(own+"/cgroup.procs", strconv.Itoa(fakePid)+"\n999")
	m := f.detect("0::/system.slice/mcp.service\n")
	s := m.Support()
	if s.Version != "v2" || s.Memory || s.Pids || s.CPU {
		t.Fatalf("Support = %+v, want v2 without limits", s)
	}
	if !s.Kill || !s.CPUUsage {
		t.Fatalf("Support = %+v, want tracking, kill and usage still", s)
	}
	for _, k := range []string{"memory", "pids", "cpu"} {
		if !strings.Contains(s.Reasons[k], "other processes") {
			t.Errorf("reason %s = %q, want it to name the other processes", k, s.Reasons[k])
		}
	}
	if got := f.get(own + "/cgroup.procs"); !strings.Contains(got, strconv.Itoa(fakePid)) {
		t.Fatalf("server not moved back: %q", got)
	}
	if _, err := os.Stat(own + "/mcp-server"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the failed leaf was left behind")
	}
	_, err := m.New("x", Limits{MemoryBytes: 1 << 20})
	if e := errcode.As(err); err == nil || e.Code != errcode.LayerUnavailable || !strings.Contains(e.Message, "memory limit") {
		t.Fatalf("New with a memory limit = %v, want LAYER_UNAVAILABLE naming the memory limit", err)
	}
	g, err := m.New("x", Limits{})
	if err != nil {
		t.Fatalf("New without limits: %v", err)
	}
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFakeV2WithoutControllers(t *testing.T) {
	f := newFakeFS(t)
	f.addV2("cg", "")
	m := f.detect("0::/\n")
	s := m.Support()
	if s.Version != "v2" || s.Memory || s.Pids || s.CPU {
		t.Fatalf("Support = %+v", s)
	}
	if !s.Kill || !s.CPUUsage {
		t.Fatalf("Support = %+v, want kill and CPU usage from the bare v2 group", s)
	}
	for _, k := range []string{"memory", "pids", "cpu"} {
		if !strings.Contains(s.Reasons[k], "not delegated") {
			t.Errorf("reason %s = %q", k, s.Reasons[k])
		}
	}
	if _, ok := s.Reasons["kill"]; ok {
		t.Errorf("a reason for a supported capability: %v", s.Reasons)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestFakeV1(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mounts [][]string // rel dir, controllers...
		proc   string
		dirs   int
		cpuDir string // rel dir of the cpu limit files
		acct   string // rel dir of cpuacct.usage
	}{
		{
			name:   "co-mounted cpu,cpuacct",
			mounts: [][]string{{"cg/memory", "memory"}, {"cg/pids", "pids"}, {"cg/cpu,cpuacct", "cpu", "cpuacct"}, {"cg/freezer", "freezer"}},
			proc:   "5:freezer:/\n4:memory:/user/x\n3:pids:/\n2:cpu,cpuacct:/\n1:name=systemd:/\n",
			dirs:   4, cpuDir: "cg/cpu,cpuacct/mcp/l", acct: "cg/cpu,cpuacct/mcp/l",
		},
		{
			name:   "separate cpu and cpuacct",
			mounts: [][]string{{"cg/memory", "memory"}, {"cg/pids", "pids"}, {"cg/cpu", "cpu"}, {"cg/cpuacct", "cpuacct"}, {"cg/freezer", "freezer"}},
			proc:   "6:freezer:/\n5:memory:/user/x\n3:pids:/\n2:cpuacct:/\n1:cpu:/\n",
			dirs:   5, cpuDir: "cg/cpu/mcp/l", acct: "cg/cpuacct/mcp/l",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeFS(t)
			for _, mt := range tc.mounts {
				f.addV1(mt[0], mt[1:]...)
			}
			f.mkGroup(f.root + "/cg/memory/user")
			f.mkGroup(f.root + "/cg/memory/user/x")
			m := f.detect(tc.proc)
			s := m.Support()
			if s.Version != "v1" || !s.Memory || !s.Pids || !s.CPU || !s.CPUUsage || !s.Kill || len(s.Reasons) != 0 {
				t.Fatalf("Support = %+v", s)
			}
			g, err := m.New("l", Limits{MemoryBytes: 100 << 20, Pids: 20, CPUPercent: 150})
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Paths()) != tc.dirs {
				t.Fatalf("Paths = %v, want %d dirs", g.Paths(), tc.dirs)
			}
			mem := f.root + "/cg/memory/user/x/mcp/l"
			for file, want := range map[string]string{
				mem + "/memory.limit_in_bytes":                  strconv.Itoa(100 << 20),
				mem + "/memory.memsw.limit_in_bytes":            strconv.Itoa(100 << 20),
				f.root + "/cg/pids/mcp/l/pids.max":              "20",
				f.root + "/" + tc.cpuDir + "/cpu.cfs_quota_us":  "150000",
				f.root + "/" + tc.cpuDir + "/cpu.cfs_period_us": "100000",
			} {
				if got := f.get(file); got != want {
					t.Errorf("%s = %q, want %q", f.rel(file), got, want)
				}
			}
			// A new group's period is the kernel's default, which is ours:
			// only the quota is written.
			for _, w := range f.writes {
				if strings.Contains(w, "cpu.cfs_period_us") {
					t.Errorf("cpu.cfs_period_us written (%s): a new group already has the 100 ms period", w)
				}
			}
			// memory.limit_in_bytes is written before memory.memsw (the
			// kernel refuses memsw < limit).
			iMem := slices.Index(f.writes, f.rel(mem)+"/memory.limit_in_bytes="+strconv.Itoa(100<<20))
			iSw := slices.Index(f.writes, f.rel(mem)+"/memory.memsw.limit_in_bytes="+strconv.Itoa(100<<20))
			if iMem < 0 || iSw < iMem {
				t.Errorf("memory limit order wrong: %v", f.writes)
			}
			if err := g.Join(555); err != nil {
				t.Fatal(err)
			}
			for _, d := range g.Paths() {
				if got := f.get(d + "/cgroup.procs"); got != "555" {
					t.Errorf("%s/cgroup.procs = %q", f.rel(d), got)
				}
			}
			if _, err := g.FD(); err == nil {
				t.Error("FD succeeded without a v2 group")
			}
			f.put(f.root+"/"+tc.acct+"/cpuacct.usage", "2500000000")
			f.put(mem+"/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
			f.put(mem+"/memory.usage_in_bytes", "4096")
			f.put(f.root+"/cg/pids/mcp/l/pids.current", "5")
			st, err := g.Stats()
			if err != nil {
				t.Fatal(err)
			}
			if want := (Stats{MemoryBytes: 4096, CPUUsage: 2500 * 1e6, Pids: 5, OOMKills: 3}); st != want {
				t.Fatalf("Stats = %+v, want %+v", st, want)
			}
			// Kill: the fake pid must not be signalled, so empty first;
			// the freezer is still frozen and thawed.
			for _, d := range g.Paths() {
				f.put(d+"/cgroup.procs", "")
			}
			f.writes = nil
			if err := g.Kill(); err != nil {
				t.Fatal(err)
			}
			frz := "cg/freezer/mcp/l/freezer.state"
			if i, j := slices.Index(f.writes, frz+"=FROZEN"), slices.Index(f.writes, frz+"=THAWED"); i < 0 || j < i {
				t.Fatalf("Kill did not freeze then thaw: %v", f.writes)
			}
			if err := g.Remove(); err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			for _, p := range append(g.Paths(), mem[:len(mem)-2], f.root+"/cg/pids/mcp") {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left behind", f.rel(p))
				}
			}
		})
	}
}

func TestFakeHybridUsesV2ForKillAndUsage(t *testing.T) {
	f := newFakeFS(t)
	f.addV1("cg/memory", "memory")
	f.addV1("cg/pids", "pids")
	f.addV1("cg/cpu", "cpu")
	f.addV1("cg/cpuacct", "cpuacct")
	f.addV1("cg/freezer", "freezer")
	f.addV2("cg/unified", "hugetlb")
	m := f.detect("6:freezer:/\n5:memory:/\n3:pids:/\n2:cpuacct:/\n1:cpu:/\n0::/\n")
	s := m.Support()
	if s.Version != "hybrid" || !s.Memory || !s.Pids || !s.CPU || !s.CPUUsage || !s.Kill {
		t.Fatalf("Support = %+v", s)
	}
	g, err := m.New("h", Limits{Pids: 4})
	if err != nil {
		t.Fatal(err)
	}
	// v2 + memory + pids + cpu; no freezer/cpuacct groups (v2 does that).
	if len(g.Paths()) != 4 {
		t.Fatalf("Paths = %v", g.Paths())
	}
	if err := g.JoinV1(556); err != nil {
		t.Fatal(err)
	}
	if got := f.get(f.root + "/cg/unified/mcp/h/cgroup.procs"); got != "" {
		t.Fatalf("JoinV1 wrote to the v2 group: %q", got)
	}
	if got := f.get(f.root + "/cg/pids/mcp/h/cgroup.procs"); got != "556" {
		t.Fatalf("JoinV1 missed pids: %q", got)
	}
	for _, d := range g.Paths() {
		f.put(d+"/cgroup.procs", "")
	}
	if err := g.Kill(); err != nil {
		t.Fatal(err)
	}
	if !f.logged("cg/unified/mcp/h/cgroup.kill=1") {
		t.Fatalf("hybrid Kill did not use cgroup.kill: %v", f.writes)
	}
	if err := m.Close(); err != nil { // Close removes the live group too
		t.Fatal(err)
	}
	if _, err := os.Stat(f.root + "/cg/unified/mcp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("Close left the v2 parent")
	}
}

func TestFakeNoneAndPartial(t *testing.T) {
	t.Run("none", func(t *testing.T) {
		f := newFakeFS(t)
		m := f.detect("")
		s := m.Support()
		if s.Version != "none" || s.Memory || s.Pids || s.CPU || s.CPUUsage || s.Kill {
			t.Fatalf("Support = %+v", s)
		}
		for _, k := range []string{"memory", "pids", "cpu", "cpuusage", "kill"} {
			if s.Reasons[k] == "" {
				t.Errorf("no reason for %s", k)
			}
		}
		_, err := m.New("x", Limits{})
		if e := errcode.As(err); err == nil || e.Code != errcode.LayerUnavailable {
			t.Fatalf("New on none = %v", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("v1 memory only, no swap accounting", func(t *testing.T) {
		f := newFakeFS(t)
		f.noSwap = true
		f.addV1("cg/memory", "memory")
		m := f.detect("4:memory:/\n")
		s := m.Support()
		if s.Version != "v1" || !s.Memory || s.Pids || s.CPU || s.CPUUsage || s.Kill {
			t.Fatalf("Support = %+v", s)
		}
		if !strings.Contains(s.Reasons["pids"], "no cgroup v1 pids") || !strings.Contains(s.Reasons["kill"], "SIGKILL") {
			t.Fatalf("Reasons = %v", s.Reasons)
		}
		g, err := m.New("x", Limits{MemoryBytes: 1 << 20})
		if err != nil {
			t.Fatalf("New without memsw: %v", err)
		}
		if got := f.get(g.Paths()[0] + "/memory.limit_in_bytes"); got != "1048576" {
			t.Fatalf("memory.limit_in_bytes = %q", got)
		}
		// The absent memsw file is asked for once per manager, not at
		// every launch.
		g2, err := m.New("x2", Limits{MemoryBytes: 2 << 20})
		if err != nil {
			t.Fatal(err)
		}
		if err := g2.SetLimits(Limits{MemoryBytes: 3 << 20}); err != nil {
			t.Fatal(err)
		}
		asked := 0
		for _, w := range f.writes {
			if strings.Contains(w, "memory.memsw.limit_in_bytes") {
				asked++
			}
		}
		if asked != 1 {
			t.Fatalf("memory.memsw.limit_in_bytes written %d times, want once: %v", asked, f.writes)
		}
		if _, err := g.CPUUsage(); err == nil {
			t.Fatal("CPUUsage without accounting succeeded")
		}
		if _, err := m.New("y", Limits{Pids: 3}); err == nil || !strings.Contains(err.Error(), "process limit") {
			t.Fatalf("New with pids = %v, want an error naming the process limit", err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestFakeLimitWriteFailureLeavesNothing(t *testing.T) {
	f, own := pureV2(t)
	m := f.detect("0::/system.slice/mcp.service\n")
	f.fail["cpu.max"] = unix.EINVAL
	_, err := m.New("bad", Limits{MemoryBytes: 1 << 20, CPUPercent: 10})
	if err == nil {
		t.Fatal("New succeeded although cpu.max failed")
	}
	e := errcode.As(err)
	if e.Code != errcode.LayerUnavailable || !strings.Contains(e.Message, "CPU limit") || !strings.Contains(e.Message, "cpu.max") {
		t.Fatalf("error = %v, want LAYER_UNAVAILABLE naming the CPU limit and the file", err)
	}
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("error %v does not wrap EINVAL", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || !strings.HasSuffix(pe.Path, "/bad/cpu.max") {
		t.Fatalf("error %v does not wrap the path", err)
	}
	if _, err := os.Stat(own + "/mcp/bad"); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the half-made group was left behind")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadNames(t *testing.T) {
	f, _ := pureV2(t)
	m := f.detect("0::/system.slice/mcp.service\n")
	defer m.Close()
	for _, name := range []string{"", ".", "..", "a/b", "a\nb"} {
		if _, err := m.New(name, Limits{}); errcode.As(err).Code != errcode.InvalidInput {
			t.Errorf("New(%q) = %v, want INVALID_INPUT", name, err)
		}
	}
	if _, err := Detect(DetectOptions{Prefix: "../x"}); err == nil {
		t.Error("Detect accepted a prefix with a slash")
	}
}

func TestCPUQuota(t *testing.T) {
	for _, tc := range []struct {
		pct  float64
		want int64
	}{{20, 20000}, {100, 100000}, {250, 250000}, {0.1, 1000}, {1, 1000}, {1.5, 1500}} {
		if got := cpuQuota(tc.pct); got != tc.want {
			t.Errorf("cpuQuota(%v) = %d, want %d", tc.pct, got, tc.want)
		}
	}
}
