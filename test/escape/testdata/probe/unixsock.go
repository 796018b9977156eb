//go:build linux

package main

import (
	"net"
	"time"
)

func init() {
	attacks["unix-connect"] = unixConnect
}

// unix-connect PATH: connect to the pathname unix socket PATH (what a
// child would do to the D-Bus session bus, docker.sock or ssh-agent) and
// send one line; ok when the line was written.
func unixConnect(args []string) result {
	path := need(args, 0, "PATH")
	c, err := net.DialTimeout("unix", path, 5*time.Second)
	if err != nil {
		return fail(err, "connect "+path)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello from the sandbox\n")); err != nil {
		return fail(err, "write to "+path)
	}
	return success("connected to " + path)
}
