package main

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	attacks["udp-exchange"] = udpExchange
	attacks["icmp-raw"] = icmpRaw
}

// udp-exchange ADDR: send a datagram to ADDR and wait up to 3 s for the
// answer. The escape is an answer from the host's listener ("host").
func udpExchange(args []string) result {
	addr := need(args, 0, "ADDR")
	c, err := net.Dial("udp", addr)
	if err != nil {
		return fail(err, "dial udp "+addr)
	}
	defer c.Close()
	if _, err := c.Write([]byte("probe")); err != nil {
		return fail(err, "send to "+addr)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	b := make([]byte, 64)
	n, err := c.Read(b)
	if err != nil {
		return fail(err, "receive from "+addr)
	}
	if string(b[:n]) != "host" {
		return result{Detail: fmt.Sprintf("answer %q from %s is not the host's", b[:n], addr)}
	}
	return success(fmt.Sprintf("exchanged a datagram with %s: %q", addr, b[:n]))
}

// icmp-raw ADDR TOKEN: an ICMP echo request carrying TOKEN, sent on a raw
// socket (needs CAP_NET_RAW) to ADDR. ok means the kernel took it; whether
// it reached the host is for the test to see (it watches the host's ICMP
// for TOKEN).
func icmpRaw(args []string) result {
	addr := net.ParseIP(need(args, 0, "ADDR")).To4()
	token := need(args, 1, "TOKEN")
	if addr == nil {
		return result{Detail: "not an IPv4 address"}
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err != nil {
		return fail(err, "socket(AF_INET, SOCK_RAW, ICMP)")
	}
	defer unix.Close(fd)
	msg := append([]byte{8, 0, 0, 0, 0x12, 0x34, 0, 1}, token...)
	var sum uint32
	for i := 0; i+1 < len(msg); i += 2 {
		sum += uint32(msg[i])<<8 | uint32(msg[i+1])
	}
	if len(msg)%2 == 1 {
		sum += uint32(msg[len(msg)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	msg[2], msg[3] = byte(^sum>>8), byte(^sum)
	sa := &unix.SockaddrInet4{Addr: [4]byte(addr)}
	if err := unix.Sendto(fd, msg, 0, sa); err != nil {
		return fail(err, "send an ICMP echo to "+addr.String())
	}
	return success("sent an ICMP echo request with token " + strconv.Quote(token) + " to " + addr.String())
}
