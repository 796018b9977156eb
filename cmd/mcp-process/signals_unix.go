//go:build unix

package main

import "golang.org/x/sys/unix"

// signalNumber is the number of a signal name such as "SIGKILL" (0 if unknown).
func signalNumber(name string) int {
	if name == "" {
		return 0
	}
	return int(unix.SignalNum(name))
}
