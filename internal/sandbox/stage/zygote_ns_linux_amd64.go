//go:build linux

package stage

const (
	nrWait4 = 61
	nrPpoll = 271
	nrSetns = 308
)
