//go:build linux && !amd64

package main

// int80 does not exist off amd64: report ENOSYS.
func int80(uintptr) uintptr { return ^uintptr(37) } // -38
