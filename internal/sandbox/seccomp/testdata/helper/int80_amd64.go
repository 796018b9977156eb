//go:build linux

package main

// int80 makes an i386 system call through int 0x80 and returns eax.
func int80(nr uintptr) uintptr
