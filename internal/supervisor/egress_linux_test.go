//go:build linux

package supervisor

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// echoEgress answers every connection on the HTTP listener with the name
// of the launch's executable, and records that Close was called.
type echoEgress struct {
	mu     sync.Mutex
	who    []LaunchInfo
	closed int
	wg     sync.WaitGroup
}

type egressCloser struct {
	e *echoEgress
	l *sandbox.EgressListeners
}

func (c egressCloser) Close() error {
	err := c.l.Close()
	c.e.wg.Wait()
	c.e.mu.Lock()
	c.e.closed++
	c.e.mu.Unlock()
	return err
}

func (e *echoEgress) Serve(l *sandbox.EgressListeners, who LaunchInfo) (io.Closer, error) {
	e.mu.Lock()
	e.who = append(e.who, who)
	e.mu.Unlock()
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := l.HTTP.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("proxy for " + who.Executable + "\n"))
			c.Close()
		}
	}()
	return egressCloser{e, l}, nil
}

func (e *echoEgress) closes() int { e.mu.Lock(); defer e.mu.Unlock(); return e.closed }

const proxyClient = `import socket
print(socket.create_connection(('127.0.0.1', 3128), timeout=5).recv(200).decode().strip())
try:
    socket.create_connection(('127.0.0.1', int(__import__('sys').argv[1])), timeout=3); print('host reached')
except OSError as e:
    print('host unreachable')
`

// A launch with allowedNetworkDestinations: the server's EgressServer gets
// the child's listeners, the child reaches it through 127.0.0.1:3128 (and
// not the host's own listener), and the listeners are closed once the
// tree has ended. Without an EgressServer the launch fails closed.
func TestEgressServerServesTheLaunch(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (or a self-mapped user namespace; see test/escape)")
	}
	host, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()
	cfg := baseConfig()
	cfg.AllowedNetworkDestinations = []string{"example.com"}
	eg := &echoEgress{}
	s, fa := newSup(t, cfg, func(o *Options) { o.Egress = eg })
	spec := specFor(t, "/usr/bin/python3", "-c", proxyClient, strings.TrimPrefix(host.Addr().String(), "127.0.0.1:"))
	st := start(t, s, agentA, spec, capture())
	end := waitExit(t, s, agentA, st.Pid)
	out, errOut := output(t, s, agentA, st.Pid)
	if end.ExitCode == nil || *end.ExitCode != 0 || out != "proxy for "+spec.Path+"\nhost unreachable\n" {
		t.Fatalf("child %+v: stdout %q stderr %q", end, out, errOut)
	}
	if len(eg.who) != 1 || eg.who[0].Agent != agentA || eg.who[0].PID != st.Pid {
		t.Errorf("Serve called for %+v", eg.who)
	}
	eventually(t, "the listeners closed after the tree ended", func() bool { return eg.closes() == 1 })
	var reported bool
	for _, a := range st.Sandbox.Applied {
		reported = reported || strings.HasPrefix(a, "network: allowlist via proxy")
	}
	if !reported {
		t.Errorf("sandbox.applied %q does not report the network mode", st.Sandbox.Applied)
	}

	// No EgressServer: refused before the target runs, and nothing recorded as launched.
	s2, fa2 := newSup(t, cfg)
	_, err = s2.Start(agentA, specFor(t, "true"), capture())
	e := wantCode(t, err, errcode.LayerUnavailable)
	if e.Layer != "network" || !strings.Contains(e.Message, "egress proxy") {
		t.Errorf("without an EgressServer: %+v", e)
	}
	if n := len(fa2.events("launch", 0)); n != 0 {
		t.Errorf("%d launch records for a refused launch", n)
	}
	_ = fa
}
