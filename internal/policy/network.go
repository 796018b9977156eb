package policy

import (
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/sandbox/stage"
)

// proxyVars are the variables that point programs at a proxy, in upper
// case; a request may not set them when the server's egress proxy is in
// force (SPEC 3.11), and inheritEnvVars cannot carry the server's own.
var proxyVars = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "FTP_PROXY"}

func isProxyVar(n string) bool {
	for _, v := range proxyVars {
		if strings.EqualFold(n, v) {
			return true
		}
	}
	return false
}

// ProxyEnv is what every child of a server with allowedNetworkDestinations
// gets, in both spellings: the egress proxy's listeners inside the child's
// own network namespace (HTTP for http and https, SOCKS5 with names
// resolved by the proxy for everything else), and NO_PROXY empty so that no
// destination bypasses it.
func ProxyEnv() []string {
	httpProxy := "http://127.0.0.1:" + strconv.Itoa(stage.EgressHTTPPort)
	all := "socks5h://127.0.0.1:" + strconv.Itoa(stage.EgressSOCKSPort)
	return []string{
		"HTTP_PROXY=" + httpProxy, "HTTPS_PROXY=" + httpProxy, "ALL_PROXY=" + all, "NO_PROXY=",
		"http_proxy=" + httpProxy, "https_proxy=" + httpProxy, "all_proxy=" + all, "no_proxy=",
	}
}
