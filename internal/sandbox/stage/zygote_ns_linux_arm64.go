//go:build linux

package stage

const (
	nrWait4 = 260
	nrPpoll = 73
	nrSetns = 268
)
