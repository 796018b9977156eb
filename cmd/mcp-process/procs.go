package main

import (
	"os"
	"runtime"
)

// serveProcs sets how many threads may run serve's Go code at once
// (GOMAXPROCS) to half of what the runtime chose (the CPUs it may use),
// at least one, unless GOMAXPROCS is set in the server's environment (the
// runtime then uses that, untouched). It returns the value in force.
//
// Why: the server shares its CPUs with the processes it launches, and its
// own work per call is a chain of short steps handed between goroutines
// (the request, the launch, the output readers, the exit, the answer).
// With a P per CPU, each hand-off to an idle P wakes another thread that
// spins looking for work, mostly finds none and sleeps again: CPU taken
// from the children on a busy host. Measured on 2 CPUs (docs/performance.md,
// "Server CPU per call at four clients"): one P instead of two cut the
// server's own CPU per process_run by 11-16% and raised calls/s at four
// clients by ~10% (not in the busiest runs); capturing 4 KiB writes took a
// third of the CPU.
func serveProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return runtime.GOMAXPROCS(0)
	}
	n := max(1, runtime.GOMAXPROCS(0)/2)
	runtime.GOMAXPROCS(n)
	return n
}
