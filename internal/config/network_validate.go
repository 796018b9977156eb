package config

import (
	"fmt"
	"strings"

	"github.com/mcp-process/mcp-process/internal/egress"
)

// networkEntries checks each entry of a destination list the way the
// server's egress proxy compiles it at start (SPEC 3.11): an entry it
// could not compile is a config error naming the key, the entry and the
// fix, so validate and doctor show what serve would refuse.
func networkEntries(key string, list []string) *Error {
	if e := nonEmptyEntries(key, list); e != nil {
		return e
	}
	for i, s := range list {
		if _, err := egress.Compile([]string{s}, nil); err != nil {
			why := err.Error()
			if j := strings.Index(why, ": "); j >= 0 {
				why = why[j+2:] // Compile names allowedNetworkDestinations[0]; the key and index are ours
			}
			return invalid(fmt.Sprintf("%s[%d]", key, i),
				"write a hostname (api.example.com), a wildcard (*.example.com), an IP address or a CIDR, each with an optional :port",
				"%q: %s", s, why)
		}
	}
	return nil
}
