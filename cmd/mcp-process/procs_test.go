package main

import (
	"runtime"
	"testing"
)

// serve runs its Go code on half the CPUs the runtime chose (at least one)
// unless the environment sets GOMAXPROCS, which is then left as it is.
func TestServeProcs(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(was)
	for _, cpus := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(cpus)
		t.Setenv("GOMAXPROCS", "")
		want := max(1, cpus/2)
		if got := serveProcs(); got != want || runtime.GOMAXPROCS(0) != want {
			t.Errorf("%d CPUs, GOMAXPROCS unset: serveProcs %d, in force %d; want %d", cpus, got, runtime.GOMAXPROCS(0), want)
		}
		runtime.GOMAXPROCS(cpus)
		t.Setenv("GOMAXPROCS", "3") // the runtime read it at start; here only its presence counts
		if got := serveProcs(); got != cpus || runtime.GOMAXPROCS(0) != cpus {
			t.Errorf("%d CPUs, GOMAXPROCS set: serveProcs %d, in force %d; want %d untouched", cpus, got, runtime.GOMAXPROCS(0), cpus)
		}
	}
}
