//go:build linux

package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// isolationProbe prints, as JSON, what a target can observe of its
// containment: ids, capabilities, no_new_privs, seccomp, namespaces (its
// own or the server's, given as arguments), cgroup (the server's or not),
// rlimits, descriptors, host name, pids, mounts (with their options: a
// seal left writable shows), its session and process group, whether it may
// signal the server (Landlock's signal scope), what it may write and its
// environment (names and values).
const isolationProbe = `
import json, os, resource, socket, sys
host = dict(a.split('=', 1) for a in sys.argv[1:])
o = {}
for l in open('/proc/self/status').read().splitlines():
    k, _, v = l.partition(':')
    if k in ('Uid', 'Gid', 'Groups', 'CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp', 'Seccomp_filters', 'SigBlk', 'SigIgn'):
        o[k] = v.strip()
for ns in ('pid', 'uts', 'ipc', 'net', 'mnt', 'user', 'cgroup'):
    o['ns_' + ns] = 'server' if os.readlink('/proc/self/ns/' + ns) == host[ns] else 'own'
o['cgroup'] = 'server' if open('/proc/self/cgroup').read() == host['cg'] else 'own'
o['pid1'] = os.getpid() == 1
o['ppid'] = 'server' if os.getppid() == int(host['server']) else os.getppid()
o['hostname'] = socket.gethostname()
for r in ('RLIMIT_NOFILE', 'RLIMIT_CPU', 'RLIMIT_CORE', 'RLIMIT_NPROC', 'RLIMIT_AS'):
    o[r] = resource.getrlimit(getattr(resource, r))
o['fds'] = sorted(os.listdir('/proc/self/fd'))
o['mounts'] = sorted(' '.join(l.split()[4:6] + l.split(' - ')[1].split()[:1]) for l in open('/proc/self/mountinfo'))
o['session'] = 'own' if os.getsid(0) == os.getpid() else 'other'
o['pgrp'] = 'own' if os.getpgrp() == os.getpid() else 'other'
def signal(pid):
    try:
        os.kill(pid, 0)
        return 'delivered'
    except OSError as e:
        return e.errno
o['signal_server'] = signal(int(host['server']))
def write(p):
    try:
        open(p, 'w').close()
        return 'written'
    except OSError as e:
        return e.errno
o['write'] = {p: write(p) for p in ('/etc/mcp-pooled-probe', '/tmp/probe', os.getcwd() + '/probe', host['outside'] + '/probe')}
o['env'] = sorted(os.environ.items())
o['cwd'] = os.getcwd()
try:
    o['lo'] = 'up' if int(open('/sys/class/net/lo/flags').read(), 16) & 1 else 'down'
except OSError as e:
    o['lo'] = e.errno
o['ifaces'] = sorted(os.listdir('/sys/class/net'))
o['proc_self'] = os.readlink('/proc/self') == str(os.getpid())
print(json.dumps(o, sort_keys=True))
`

// A launch through a warm stage (pooled, with its keeper, trimmed and
// prefaulted while idle) is contained exactly like one through a plain
// stage (no pool, no keeper, nothing trimmed or prefaulted): the target
// observes the same thing either way, under the development defaults
// (where the pooled stage has a keeper) and with every namespace (where it
// has none: the stage is the PID namespace's init).
func TestPooledLaunchIsolatedAsCold(t *testing.T) {
	dir, outside := hostDir(t), hostDir(t)
	var cg *cgroup.Manager
	if os.Geteuid() == 0 {
		if m, err := cgroup.Detect(cgroup.DetectOptions{Prefix: fmt.Sprintf("mcp-process-pooltest-%d", os.Getpid())}); err == nil && newLaunchCgroups(m).enabled() {
			cg = m
			defer m.Close()
		}
	}
	host := []string{"cg=" + readFile(t, "/proc/self/cgroup"), "outside=" + outside, "server=" + strconv.Itoa(os.Getpid())}
	for _, ns := range []string{"pid", "uts", "ipc", "net", "mnt", "user", "cgroup"} {
		link, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			t.Fatal(err)
		}
		host = append(host, ns+"="+link)
	}
	base, err := IsolationFor(config.BuiltinDefault(dir))
	if err != nil {
		t.Skipf("the development defaults cannot be enforced here: %v", err)
	}
	full := base
	full.Namespaces = config.Namespaces{PID: true, UTS: true, IPC: true, Network: true, Mount: true}
	// A config file that only allowlists executables (bench/compare's
	// default target): Landlock and the tree's executable scope on.
	file := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(file, []byte(`{"allowedExecutables": ["`+python(t)+`"], "allowedWorkingDirectories": ["`+dir+`"], "auditLogPath": "`+filepath.Join(outside, "audit.log")+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	ld, err := config.Load(config.LoadOptions{ConfigPath: file, Cwd: dir})
	if err != nil {
		t.Fatal(err)
	}
	allow, err := IsolationFor(ld.Config)
	if err != nil {
		t.Fatal(err)
	}
	if !allow.Landlock || allow.ExecPaths == nil {
		t.Fatalf("the allowlist config has Landlock %v, tree scope %v: want both", allow.Landlock, allow.ExecPaths != nil)
	}
	// The full isolation profile of bench/compare: every namespace but
	// user, seccomp strict, Landlock, a read-only filesystem with a /tmp
	// of its own (the cgroup limits come with cg).
	fc := config.BuiltinDefault(dir)
	fc.EnableNamespaces = true
	fc.Namespaces = config.Namespaces{PID: true, UTS: true, IPC: true, Network: true, Mount: true}
	fc.EnableSeccomp, fc.SeccompProfile = true, "strict"
	fc.Landlock, fc.ReadOnlyFilesystem, fc.TmpfsSize = true, true, 64
	fc.WritablePaths = []string{outside}
	strict, err := IsolationFor(fc)
	if err != nil {
		t.Fatalf("the full isolation profile: %v", err)
	}
	for _, tc := range []struct {
		name string
		iso  Isolation
	}{{"development defaults", base}, {"every namespace", full}, {"allowlist config file", allow}, {"full isolation", strict}} {
		t.Run(tc.name, func(t *testing.T) {
			spec := py(t, isolationProbe)
			spec.Argv = append(spec.Argv, host...)
			spec.Dir = dir
			spec.Limits = config.ResourceLimits{MaxFileDescriptors: 64, MaxCpuTime: 30, MaxMemoryMB: 256, MaxProcesses: 50}
			observe := func(o LauncherOptions, wantKeeper bool) map[string]any {
				// The pool makes its groups with the launch's limits, as a
				// server with these as defaultResourceLimits does.
				o.Cgroups, o.Isolation, o.GroupLimits = cg, tc.iso, spec.Limits
				l := NewLauncher(o)
				defer l.Close()
				if o.PoolSize > 0 {
					idlePids(t, l)
				}
				var pooledCg []*cgroup.Group
				if cg != nil && !o.Plain {
					pooledCg = pooledGroups(t, l)
				}
				p, err := l.Start(spec, Stdio{})
				if err != nil {
					t.Fatal(err)
				}
				hasKeeper, forked := p.keeps.keeper != nil, p.forked
				// The launch's cgroup as the target will find it, at the
				// gate: a forked child's is a pooled group (cgroups_pool.go),
				// a plain launch's one made on its path.
				var group map[string]string
				if cg != nil {
					if forked && (len(pooledCg) == 0 || p.Cgroup() != pooledCg[0]) {
						t.Fatalf("%+v: the forked launch is not in the oldest pooled group", o)
					}
					group = groupAtGate(t, p)
				}
				p.Abort()
				if runtime.GOARCH == "amd64" && hasKeeper != wantKeeper {
					t.Fatalf("%+v: keeper %v, want %v", o, hasKeeper, wantKeeper)
				}
				// The zygote serves exactly the eligible launches: with a
				// per-launch namespace or the read-only filesystem, a root
				// server's only.
				ns := tc.iso.Namespaces
				perLaunch := ns.PID || ns.Network || ns.UTS || ns.IPC || tc.iso.ReadOnly
				if wantZ := o.Stage == StageZygote && (!perLaunch || os.Geteuid() == 0); forked != wantZ || (l.zygotePid() != 0) != wantZ {
					t.Fatalf("%+v: forked by the zygote %v (zygote pid %d), want %v", o, forked, l.zygotePid(), wantZ)
				}
				out, st := runAll(t, l, spec)
				exitOK(t, out, st)
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil {
					t.Fatalf("%v: %s", err, out)
				}
				for k, v := range group {
					m["cgroup "+k] = v
				}
				return m
			}
			pooled := observe(LauncherOptions{PoolSize: 1, Stage: StageGo}, !tc.iso.Namespaces.PID)
			plain := observe(LauncherOptions{Plain: true}, false)
			// Forked by the zygote (for an unprivileged server, with a
			// per-launch namespace the launch is not eligible and uses a
			// stage).
			forked := observe(LauncherOptions{PoolSize: 1, Stage: StageZygote}, false)
			a, _ := json.MarshalIndent(pooled, "", " ")
			for _, other := range []struct {
				name string
				m    map[string]any
			}{{"pooled", pooled}, {"forked", forked}} {
				for k, v := range other.m {
					if w, _ := json.Marshal(plain[k]); string(w) != mustJSON(v) {
						t.Errorf("%s: the %s launch observes %s, the plain one %s", k, other.name, mustJSON(v), w)
					}
				}
				if len(other.m) != len(plain) {
					t.Errorf("observations: %d %s, %d plain", len(other.m), other.name, len(plain))
				}
			}
			if t.Failed() {
				t.Fatalf("pooled:\n%s", a)
			}
			// Not merely equal: contained (no_new_privs, the child's own
			// mount namespace under the defaults).
			if pooled["NoNewPrivs"] != "1" || pooled["ns_mnt"] != "own" {
				t.Fatalf("not contained: %s", a)
			}
			if tc.name == "full isolation" {
				// Each namespace its own, pid 1, its host name, lo up,
				// a fresh /proc, everything read-only but /tmp and the
				// writable path, strict seccomp.
				for _, ns := range []string{"ns_pid", "ns_uts", "ns_ipc", "ns_net", "ns_mnt"} {
					if forked[ns] != "own" {
						t.Errorf("%s: %v", ns, forked[ns])
					}
				}
				w, _ := forked["write"].(map[string]any)
				if forked["pid1"] != true || forked["hostname"] != "mcp-process" || forked["lo"] != "up" || forked["proc_self"] != true ||
					forked["Seccomp"] != "2" || w["/etc/mcp-pooled-probe"] == "written" || w[outside+"/probe"] != "written" || w["/tmp/probe"] != "written" {
					t.Errorf("not the full isolation: %s", mustJSON(forked))
				}
				if t.Failed() {
					t.FailNow()
				}
			}
			if cg != nil && pooled["cgroup"] != "own" {
				t.Fatalf("not in its own cgroup: %s", a)
			}
		})
	}
}

// groupAtGate is what a launch's cgroup holds while its child waits at the
// gate: the hierarchies it is in, every control file but those that count
// usage (its limits, and the counters of events that must not have
// happened), and who is in it ("the child" alone).
func groupAtGate(t *testing.T, p *Process) map[string]string {
	t.Helper()
	g := p.Cgroup()
	if g == nil {
		t.Fatal("no cgroup for the launch")
	}
	out := map[string]string{}
	for k, v := range groupFiles(t, g) {
		if usageFile(k[strings.LastIndexByte(k, ' ')+1:]) {
			continue
		}
		out[k] = v
	}
	procs, err := g.Procs()
	if err != nil {
		t.Fatal(err)
	}
	out["procs"] = fmt.Sprint(procs)
	if len(procs) == 1 && procs[0] == p.Pid {
		out["procs"] = "the child"
	}
	return out
}

// usageFile: a cgroup control file whose value follows what the processes
// in it use (or when a timer ran), not how the group was made or limited.
func usageFile(name string) bool {
	for _, s := range []string{"usage", "stat", "current", "peak", "procs", "tasks", "threads", "pressure", "slabinfo"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
