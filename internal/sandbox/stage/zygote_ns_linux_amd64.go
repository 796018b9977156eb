//go:build linux

package stage

const nrSetns = 308
