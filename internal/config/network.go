package config

// NetworkMode is what the network keys (SPEC 3.11, 7.5) ask for.
type NetworkMode int

const (
	// NetworkOpen: neither blockNetworkAccess nor a destination list; the
	// network is unrestricted (loopback only with namespaces.network).
	NetworkOpen NetworkMode = iota
	// NetworkBlocked: blockNetworkAccess without allowedNetworkDestinations:
	// an empty network namespace, nothing reaches outside.
	NetworkBlocked
	// NetworkProxy: allowedNetworkDestinations (with or without
	// blockNetworkAccess), or blockedNetworkDestinations without
	// blockNetworkAccess: an empty network namespace whose only way out is
	// the server's egress proxy, which dials what the lists allow.
	NetworkProxy
)

// NetworkMode returns the mode c's network keys ask for.
func (c *Config) NetworkMode() NetworkMode {
	switch {
	case len(c.AllowedNetworkDestinations) > 0:
		return NetworkProxy
	case c.BlockNetworkAccess:
		return NetworkBlocked // a blocked list adds nothing to "nothing"
	case len(c.BlockedNetworkDestinations) > 0:
		return NetworkProxy
	}
	return NetworkOpen
}

func (m NetworkMode) String() string {
	switch m {
	case NetworkBlocked:
		return "blocked"
	case NetworkProxy:
		return "allowlist via proxy"
	}
	return "unrestricted"
}
