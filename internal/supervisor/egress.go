package supervisor

import (
	"io"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// EgressServer serves the egress listeners of one launch with a destination
// list (SPEC 3.11): the listeners the init stage opened inside the child's
// network namespace. Serve owns them from then on; the supervisor closes
// the returned Closer once the launched tree has ended (it must then close
// the listeners and every connection it relays for that launch). An error
// fails the launch before the target runs.
type EgressServer interface {
	Serve(l *sandbox.EgressListeners, who LaunchInfo) (io.Closer, error)
}

// LaunchInfo says whose listeners an EgressServer serves (for its audit
// events).
type LaunchInfo struct {
	Agent      string
	PID        int
	Executable string
	Tool       string
	ServiceID  string // "" unless a service's launch or health check
}

// serveEgress hands sp's egress listeners, if it has any, to the
// EgressServer. Without one, a launch that has them fails: no child runs
// without the proxy its policy names (fail closed). nil, nil when the
// launch has no listeners.
func (s *Supervisor) serveEgress(sp *sandbox.Process, who LaunchInfo) (io.Closer, error) {
	l, ok := sp.Egress()
	if !ok {
		return nil, nil
	}
	if s.opts.Egress == nil {
		l.Close()
		return nil, errcode.Fail(errcode.LayerUnavailable, layer.Network,
			"this server has no egress proxy to serve allowedNetworkDestinations; remove the destination lists or use blockNetworkAccess alone",
			"the launch needs the egress proxy (allowedNetworkDestinations / blockedNetworkDestinations), which is not running in this server")
	}
	c, err := s.opts.Egress.Serve(l, who)
	if err != nil {
		l.Close()
		return nil, errcode.Fail(errcode.Internal, layer.Network, "", "the egress proxy could not serve the launch: %v", err)
	}
	if c == nil {
		c = l
	}
	return c, nil
}

// closeEgress closes what serveEgress returned (nil: nothing).
func closeEgress(c io.Closer) {
	if c != nil {
		c.Close()
	}
}
