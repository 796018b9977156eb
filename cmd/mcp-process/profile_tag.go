//go:build pprof

package main

import (
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"
)

// For profiling the server under a real client only (built with -tags
// pprof, never in a release; nothing listens): MCP_PROCESS_CPUPROFILE=FILE
// writes a CPU profile of the first MCP_PROCESS_PROFILE_SECONDS seconds
// (default 30) of a serve to FILE, the allocations of that time to
// FILE.allocs and the process's user and system CPU of that time (getrusage)
// to FILE.rusage: the profiler misses samples (those taken while signals are
// blocked, around a fork among them), so the rusage figure is the one to
// divide by the calls. The init stage never gets here (it runs in package
// stage's init and never returns).
func init() {
	path := os.Getenv("MCP_PROCESS_CPUPROFILE")
	if path == "" || len(os.Args) < 2 || os.Args[1] != "serve" {
		return
	}
	secs, err := strconv.Atoi(os.Getenv("MCP_PROCESS_PROFILE_SECONDS"))
	if err != nil || secs <= 0 {
		secs = 30
	}
	f, err := os.Create(path)
	if err != nil {
		return
	}
	runtime.MemProfileRate = 64 << 10
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return
	}
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	go func() {
		time.Sleep(time.Duration(secs) * time.Second)
		pprof.StopCPUProfile()
		var ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		os.WriteFile(path+".rusage", []byte(fmt.Sprintf("user %v sys %v\n",
			time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()), time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano()))), 0o644)
		f.Close()
		if m, err := os.Create(path + ".allocs"); err == nil {
			pprof.Lookup("allocs").WriteTo(m, 0)
			m.Close()
		}
	}()
}
