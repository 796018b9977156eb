package supervisor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/egress"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// ProxyServer is the server's EgressServer (SPEC 3.11, 7.5): it serves
// each launch's egress listeners with package egress and one Policy,
// compiled once from allowedNetworkDestinations and
// blockedNetworkDestinations when the server starts (the agent cannot
// change it), and turns every egress event into an audit record (layer
// "network"): an allowed connection is a "network" record and its end a
// "network_close" record with the bytes relayed each way; a refusal is a
// security_violation (decision "deny"), so it reaches the violation log and
// the alert path, and a flood of refusals is summarised per agent like any
// other denial (audit's denials_summarized, SPEC 7.2). What serving a
// launch owns (listeners, connections, goroutines) ends when the Closer
// Serve returns is closed, which the supervisor does once the launched
// tree has ended.
type ProxyServer struct {
	pol *egress.Policy
	rec audit.Recorder
	// Resolve and Dial replace the host's resolver and dialer (tests
	// only; nil: the host's).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	Dial    func(ctx context.Context, network, address string) (net.Conn, error)
	// MaxConns bounds the connections relayed at once per launch
	// (0: egress.DefaultMaxConns).
	MaxConns int
	// AllowedRecords is how many allowed-connection records a tree writes
	// one by one per AllowedRecordWindow (0: AllowedRecordsPerWindow).
	AllowedRecords int
}

// NewProxyServer compiles cfg's destination lists. A bad entry is an error
// naming the key, the entry and the fix (config validation reports the
// same: see config.Validate).
func NewProxyServer(cfg *config.Config, rec audit.Recorder) (*ProxyServer, error) {
	pol, err := egress.Compile(cfg.AllowedNetworkDestinations, cfg.BlockedNetworkDestinations)
	if err != nil {
		return nil, fmt.Errorf("%v (fix the entry: a hostname, *.domain, an IP address or a CIDR, each with an optional :port)", err)
	}
	return &ProxyServer{pol: pol, rec: rec}, nil
}

// Serve starts serving l for the launch who. The returned Closer closes
// the listeners and every connection and waits for their goroutines.
func (p *ProxyServer) Serve(l *sandbox.EgressListeners, who LaunchInfo) (io.Closer, error) {
	lim := &allowedLimiter{limit: p.allowance(), window: AllowedRecordWindow, now: time.Now}
	t := egress.Serve(egress.Listeners{HTTP: l.HTTP, SOCKS: l.SOCKS, Transparent: l.Transparent, DNS: l.DNS}, egress.Options{
		Policy:   p.pol,
		Resolve:  p.Resolve,
		Dial:     p.Dial,
		MaxConns: p.MaxConns,
		Record:   func(e egress.Event) { p.record(lim, networkRecord(who, e)) },
	})
	return &servedTree{t: t, p: p, lim: lim}, nil
}

func (p *ProxyServer) allowance() int {
	if p.AllowedRecords > 0 {
		return p.AllowedRecords
	}
	return AllowedRecordsPerWindow
}

// servedTree is what Serve returns: closing it ends the tree's proxy and
// writes its pending summary.
type servedTree struct {
	t   *egress.Tree
	p   *ProxyServer
	lim *allowedLimiter
}

func (s *servedTree) Close() error {
	err := s.t.Close() // every goroutine has returned: no record comes after
	if sum := s.lim.flush(); sum != nil && s.p.rec != nil {
		_ = s.p.rec.Record(*sum)
	}
	return err
}

// record writes r. A refusal goes to the log as it is (the log summarises
// denials per agent); an allowed record passes the tree's limiter. A record
// that cannot be written is the log's to report (it refuses every further
// write after a failed sync); the connection has been decided already.
func (p *ProxyServer) record(lim *allowedLimiter, r audit.Record) {
	if p.rec == nil {
		return
	}
	if r.Decision == "allow" {
		own, due := lim.admit(r)
		if due != nil {
			_ = p.rec.Record(*due)
		}
		if !own {
			return
		}
	}
	_ = p.rec.Record(r)
}

// networkRecord maps one egress event to its audit record.
func networkRecord(who LaunchInfo, e egress.Event) audit.Record {
	n := &audit.NetworkRef{Via: e.Via, Destination: e.Name, Port: int(e.Port), Rule: e.Rule}
	if e.IP.IsValid() {
		n.IP = e.IP.String()
	}
	r := audit.Record{Agent: who.Agent, Tool: who.Tool, PID: who.PID, Executable: who.Executable,
		ServiceID: who.ServiceID, Layer: layer.Network.String(), Reason: e.Reason, Network: n}
	switch {
	case e.Closed:
		out, in := e.BytesOut, e.BytesIn
		n.BytesOut, n.BytesIn = &out, &in
		r.Level, r.Event, r.Decision = audit.LevelInfo, audit.EventNetworkClose, "allow"
	case e.Allowed && e.Via == "dns":
		// An answered name is not a connection yet: debug, like reads.
		r.Level, r.Event, r.Decision = audit.LevelDebug, audit.EventNetwork, "allow"
	case e.Allowed:
		r.Level, r.Event, r.Decision = audit.LevelInfo, audit.EventNetwork, "allow"
	default:
		r.Level, r.Event, r.Decision = audit.LevelWarn, audit.EventSecurityViolation, "deny"
		if r.Reason == "" {
			r.Reason = "refused by the network policy"
		}
	}
	return r
}

// FailedProxy is an EgressServer that refuses every launch with err (the
// destination lists did not compile): fail closed.
func FailedProxy(err error) EgressServer { return failedProxy{err} }

type failedProxy struct{ err error }

func (f failedProxy) Serve(*sandbox.EgressListeners, LaunchInfo) (io.Closer, error) {
	return nil, errcode.Fail(errcode.LayerUnavailable, layer.Network, "fix allowedNetworkDestinations / blockedNetworkDestinations", "%v", f.err)
}
