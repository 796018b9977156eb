//go:build linux

package main

import (
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/seccomp"
	"github.com/mcp-process/mcp-process/internal/selfprotect"
)

// aboveKernelProbes answers the probes of aboveKernel, each from the
// package that knows the answer (the kernel calls under them are
// hostfeat's).
func aboveKernelProbes() map[string]func() hostfeat.Result {
	return map[string]func() hostfeat.Result{
		// seccomp.Available: hostfeat.Seccomp, on an architecture the
		// profiles are built for.
		"seccomp": func() hostfeat.Result {
			ok, why := seccomp.Available()
			return hostfeat.Result{Available: ok, Detail: why}
		},
		"executable-scope-tree":       executableScopeTree,
		"user-namespace-mapping":      func() hostfeat.Result { return hostfeat.Result{Available: true, Detail: sandbox.UserMapping()} },
		"network-transparent-capture": transparentCapture,
		"server-non-dumpable":         serverNonDumpable,
	}
}

// executableScopeTree: the executable scope Landlock makes the default
// (config.Load decides by the same probe).
func executableScopeTree() hostfeat.Result {
	if _, err := hostfeat.LandlockABI(); err != nil {
		return hostfeat.Result{Detail: "no Landlock: executablePolicyScope defaults to \"launch\" (only the launched file is checked) and \"tree\" is refused"}
	}
	return hostfeat.Result{Available: true, Detail: "executablePolicyScope defaults to \"tree\" here: a launch's whole tree may exec only the allowed files"}
}

// transparentCapture: nf_tables in a child's network namespace
// (sandbox.CaptureSupport, probed in a child for an unprivileged server).
func transparentCapture() hostfeat.Result {
	if err := sandbox.CaptureSupport(); err != nil {
		return hostfeat.Result{Detail: "unavailable (" + err.Error() + "): allowlist launches reach only the explicit proxies (HTTP_PROXY, ALL_PROXY); direct connections fail"}
	}
	return hostfeat.Result{Available: true, Detail: "nf_tables in each child's network namespace: with allowedNetworkDestinations every TCP connection goes to the egress proxy, every UDP packet to port 53 to its name server"}
}

// serverNonDumpable: the server's own protection (selfprotect).
func serverNonDumpable() hostfeat.Result {
	if err := selfprotect.Err(); err != nil {
		return hostfeat.Result{Detail: err.Error()}
	}
	return hostfeat.Result{Available: true, Detail: "PR_SET_DUMPABLE 0 from the server's first instructions: no same-uid child can ptrace it or take its descriptors"}
}
