package egress

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// BenchmarkConnectSetup: one CONNECT through the proxy to a loopback echo
// server, one byte each way, closed.
func BenchmarkConnectSetup(b *testing.B) {
	echo := echoServerB(b)
	h := newHarnessB(b, []string{echo})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c, err := net.Dial("tcp", h.http)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", echo)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp, err)
		}
		c.Write([]byte{1})
		br.ReadByte()
		c.Close()
	}
}

// BenchmarkConnectThroughput: bytes relayed by one CONNECT tunnel.
func BenchmarkConnectThroughput(b *testing.B) {
	echo := echoServerB(b)
	h := newHarnessB(b, []string{echo})
	c, err := net.Dial("tcp", h.http)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\n\r\n", echo)
	br := bufio.NewReader(c)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
		b.Fatal(resp, err)
	}
	buf := make([]byte, 64<<10)
	b.SetBytes(int64(len(buf)))
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.CopyN(io.Discard, br, int64(b.N)*int64(len(buf)))
	}()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.Write(buf)
	}
	<-done
}

func echoServerB(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	return l.Addr().String()
}

func newHarnessB(b *testing.B, allowed []string) *harness {
	p, err := Compile(allowed, nil)
	if err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	h := &harness{http: l.Addr().String()}
	h.tree = Serve(Listeners{HTTP: l}, Options{Policy: p, IdleTimeout: time.Minute})
	b.Cleanup(func() { h.tree.Close() })
	return h
}
