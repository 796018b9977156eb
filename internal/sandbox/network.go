package sandbox

import (
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	layers "github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// The network layer's namespace half (SPEC 3.11, 7.5): blockNetworkAccess
// and the destination lists put every child in an empty network namespace
// of its own (only lo). With a destination list (config.NetworkProxy) the
// init stage also opens, inside that namespace, the listeners of the
// server's egress proxy and hands them to the server (Process.Egress); the
// server serves them (the supervisor's EgressServer) and dials what its
// lists allow. Guarantee: no TCP, UDP, ICMP or raw socket of the child
// reaches anything outside its namespace except through those listeners.

// Ports of the egress listeners inside a child's namespace, on 127.0.0.1.
const (
	EgressHTTPPort        = stage.EgressHTTPPort
	EgressSOCKSPort       = stage.EgressSOCKSPort
	EgressTransparentPort = stage.EgressTransparentPort
	EgressDNSPort         = stage.EgressDNSPort
)

// EgressListeners are a child's egress listeners, opened inside its
// network namespace (all on 127.0.0.1; accepted connections and received
// packets come from the child). Whoever serves them owns them; the
// Process closes them too once it has been reaped.
type EgressListeners struct {
	HTTP        net.Listener   // EgressHTTPPort: HTTP CONNECT and forward proxy
	SOCKS       net.Listener   // EgressSOCKSPort: SOCKS5
	Transparent net.Listener   // EgressTransparentPort: every other TCP connection, redirected (SO_ORIGINAL_DST)
	DNS         net.PacketConn // EgressDNSPort (UDP): resolv.conf's name server, and every UDP packet to port 53
	// Captured: the transparent capture is in place in the namespace
	// (nftables). Without it, Transparent receives nothing and DNS only
	// what is sent to 127.0.0.1:53; every other direct connection fails.
	Captured bool
}

// Close closes every listener.
func (l *EgressListeners) Close() error {
	var errs []error
	for _, c := range []interface{ Close() error }{l.HTTP, l.SOCKS, l.Transparent, l.DNS} {
		if c != nil {
			if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// network sets iso's network mode from c: a network namespace for any mode
// but open. An unprivileged server without a user namespace of its own for
// its children cannot give them one: every launch fails (LAYER_UNAVAILABLE).
func (iso *Isolation) network(c *config.Config) error {
	iso.Network = c.NetworkMode()
	if iso.Network == config.NetworkOpen {
		return nil
	}
	key := "blockNetworkAccess"
	if iso.Network == config.NetworkProxy {
		key = "allowedNetworkDestinations"
		if len(c.AllowedNetworkDestinations) == 0 {
			key = "blockedNetworkDestinations"
		}
	}
	if os.Geteuid() != 0 && !iso.Namespaces.User && !iso.SelfUser {
		return errcode.Fail(errcode.LayerUnavailable, layers.Network,
			"run the server as root, or set enableNamespaces with namespaces.user, or allow unprivileged user namespaces on this host",
			"%s needs a network namespace for every child, which this unprivileged server cannot create here (no user namespace for its children)", key)
	}
	// A root server's child that keeps CAP_NET_ADMIN or CAP_SYS_ADMIN of
	// the host's user namespace could undo its own network namespace (move
	// a host interface in, or enter the host's): only in a user namespace
	// of its own are those capabilities confined to it.
	const capNetAdmin, capSysAdmin = 12, 21
	if os.Geteuid() == 0 && !iso.Namespaces.User && iso.KeepCaps&(1<<capNetAdmin|1<<capSysAdmin) != 0 {
		return errcode.Fail(errcode.LayerUnavailable, layers.Network,
			"remove CAP_NET_ADMIN and CAP_SYS_ADMIN from keepCapabilities, or set namespaces.user (the capabilities then hold in the child's own namespaces only)",
			"%s cannot be enforced for a child that keeps CAP_NET_ADMIN or CAP_SYS_ADMIN of the host (keepCapabilities): it could undo its network namespace", key)
	}
	iso.Namespaces.Network = true
	return nil
}

// networkLayer names the network layer for reports, "" in the open mode.
func (iso *Isolation) networkLayer() string {
	switch iso.Network {
	case config.NetworkBlocked:
		return "network: blocked (empty network namespace, only lo)"
	case config.NetworkProxy:
		s := "network: allowlist via proxy (empty network namespace; HTTP 127.0.0.1:" + strconv.Itoa(EgressHTTPPort) +
			", SOCKS5 127.0.0.1:" + strconv.Itoa(EgressSOCKSPort) + ", DNS 127.0.0.1:53"
		if err := captureSupport(); err == nil {
			s += "; transparent capture: nftables"
		} else {
			s += "; transparent capture: unavailable (" + err.Error() + ")"
			if hostfeat.LandlockTCP() == nil {
				s += "; Landlock: TCP connect to the proxy ports only"
			}
		}
		return s + ")"
	}
	return "" // namespaces.network alone: the namespaces entry says it
}

// NetworkState is the network layer's state for doctor and
// process_get_policy: blocked, allowlist via proxy, loopback only, or
// unrestricted, with the mechanisms this host gives.
func (iso *Isolation) NetworkState() string {
	if s := iso.networkLayer(); s != "" {
		return s[len("network: "):]
	}
	if iso.Namespaces.Network {
		return "loopback only (namespaces.network: an empty network namespace)"
	}
	return "unrestricted (no blockNetworkAccess, no destination list, no namespaces.network)"
}
