package e2e

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// SPEC 7.2: a running health check is listed as kind "health-check" with
// its service's id, runs in the service's cgroup, takes no launch quota
// (maxConcurrentProcesses 1 is the service's), and is killed at its timeout.
func TestHealthCheckListedAndContained(t *testing.T) {
	t.Parallel()
	rlRequireCgroupfs(t)
	e := newEnv(t)
	cfg := e.config("/bin/sleep")
	cfg["maxConcurrentProcesses"] = 1
	s := startServer(t, e, cfg)
	var svc struct {
		ServiceID string `json:"serviceId"`
		Pid       int    `json:"pid"`
	}
	s.ok("process_start_service", map[string]any{"name": "web", "executable": "/bin/sleep", "args": []string{"300"},
		"healthCheck": map[string]any{"command": []string{"/bin/sleep", "600"}, "interval": 2000, "timeout": 2000}}, &svc)
	var check status
	eventually(t, 15*time.Second, "a health check in process_list", func() (bool, string) {
		var list struct {
			Processes []status `json:"processes"`
		}
		s.ok("process_list", map[string]any{}, &list)
		for _, p := range list.Processes {
			if p.Kind == "health-check" && p.State == "running" {
				check = p
				return true, ""
			}
		}
		return false, fmt.Sprintf("%+v", list.Processes)
	})
	if check.ServiceID != svc.ServiceID || check.Pid == svc.Pid {
		t.Fatalf("check %+v of service %+v", check, svc)
	}
	read := func(pid int) string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		return string(b)
	}
	if c, sv := read(check.Pid), read(svc.Pid); c == "" || c != sv {
		t.Errorf("the check's cgroups\n%s\nare not the service's\n%s", c, sv)
	}
	eventually(t, 15*time.Second, "health unhealthy (the check killed at its 2 s timeout)", func() (bool, string) {
		var ss serviceStatus
		s.ok("process_get_service", map[string]any{"serviceId": svc.ServiceID}, &ss)
		return ss.Health == "unhealthy", fmt.Sprintf("%+v", ss)
	})
	waitGone(t, check.Pid, 5*time.Second, false)
}
