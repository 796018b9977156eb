package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// Fixed limits on request environment values (SPEC 3.3).
const (
	MaxEnvValueBytes = 4096
	MaxEnvTotalBytes = 65536
)

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (p *Policy) compileEnvironment() *errcode.Error {
	p.proxied = p.cfg.NetworkMode() == config.NetworkProxy
	p.blockedEnv = map[string]bool{}
	// config.Validate checked the names (HOME, always-blocked and
	// malformed ones are refused there).
	for _, n := range p.cfg.AdditionalBlockedEnvVars {
		p.blockedEnv[strings.ToUpper(n)] = true
	}
	if len(p.cfg.AllowedEnvVars) > 0 {
		p.allowedEnv = map[string]bool{}
		for _, n := range p.cfg.AllowedEnvVars {
			p.allowedEnv[strings.ToUpper(n)] = true
		}
	}
	return nil
}

// BuildEnvironment checks the request's variables (SPEC 3.3) and builds the
// child's whole environment, sorted "NAME=value": the base (PATH=searchPath,
// HOME=agent's own directory, LANG, TERM, TMPDIR), the inheritEnvVars
// copied from the server's environment, then the request's variables. The
// server's environment never leaks otherwise, and HOME is never anything
// but the agent's directory (SPEC 7.1a; "/" inside a chroot jail): a
// request setting it is refused. A refusal names the variable, never its
// value.
func (p *Policy) BuildEnvironment(agent string, reqEnv map[string]string) ([]string, *errcode.Error) {
	if err := p.checkRequestEnv(reqEnv); err != nil {
		return nil, err
	}
	return p.composeEnvironment(p.HomeOf(agent), reqEnv), nil
}

// checkRequestEnv checks the request's variables in name order: their
// count, each name (checkEnvName), each value (checkEnvValue), and their
// total size. The first refusal is returned.
func (p *Policy) checkRequestEnv(reqEnv map[string]string) *errcode.Error {
	if limit := p.cfg.MaxEnvVarCount; limit > 0 && len(reqEnv) > limit {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			fmt.Sprintf("set at most %d variables, or raise maxEnvVarCount", limit),
			"%d environment variables given, maxEnvVarCount is %d", len(reqEnv), limit)
	}
	names := make([]string, 0, len(reqEnv))
	for n := range reqEnv {
		names = append(names, n)
	}
	slices.Sort(names)
	total := 0
	for _, n := range names {
		v := reqEnv[n]
		if err := p.checkEnvName(n); err != nil {
			return err
		}
		if err := checkEnvValue(n, v); err != nil {
			return err
		}
		total += len(n) + 1 + len(v)
		if total > MaxEnvTotalBytes {
			return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
				fmt.Sprintf("keep the request's variables at most %d bytes in total", MaxEnvTotalBytes),
				"the request's environment exceeds %d bytes in total", MaxEnvTotalBytes)
		}
	}
	return nil
}

// checkEnvName refuses a request variable name that is malformed, always
// blocked, set by the server (HOME, the proxy variables when proxied), in
// additionalBlockedEnvVars, or outside allowedEnvVars when that is set.
func (p *Policy) checkEnvName(n string) *errcode.Error {
	if !envNameRE.MatchString(n) {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"use a variable name of letters, digits and _ that does not start with a digit",
			"environment variable name %q is not valid", n)
	}
	if fam, blocked := config.BlockedEnvFamily(n); blocked {
		remedy := "remove " + n + " from env: it is always blocked, and no key admits it (docs/environment.md)"
		if strings.EqualFold(n, "PATH") {
			remedy = "remove PATH from env: children get PATH=" + p.searchPath + " (the searchPath key)"
		}
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment, remedy,
			"environment variable %s is always blocked (%s: it can change what code runs)", n, fam.Family)
	}
	if strings.EqualFold(n, "HOME") {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"remove HOME from env: every child's HOME is its agent's own directory, kept across launches",
			"environment variable %s is set by the server (the agent's own HOME directory)", n)
	}
	if p.proxied && isProxyVar(n) {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"remove "+n+" from env: with allowedNetworkDestinations every child's proxy variables name the server's egress proxy",
			"environment variable %s is set by the server (the egress proxy)", n)
	}
	if p.blockedEnv[strings.ToUpper(n)] {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"remove "+n+" from env, or from additionalBlockedEnvVars",
			"environment variable %s is in additionalBlockedEnvVars", n)
	}
	if p.allowedEnv != nil && !p.allowedEnv[strings.ToUpper(n)] {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"remove "+n+" from env, or add it to allowedEnvVars",
			"environment variable %s is not in allowedEnvVars", n)
	}
	return nil
}

// checkEnvValue refuses a value of variable n that holds a NUL byte, a
// command substitution ($( or a backtick), a newline, or more than
// MaxEnvValueBytes bytes. The refusal names n, never the value.
func checkEnvValue(n, v string) *errcode.Error {
	if strings.IndexByte(v, 0) >= 0 {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			"remove the NUL byte from the value of "+n,
			"the value of %s contains a NUL byte", n)
	}
	for _, t := range []struct{ tok, shown string }{{"$(", "$("}, {"`", "a backtick"}, {"\n", "a newline"}} {
		if strings.Contains(v, t.tok) {
			return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
				"remove "+t.shown+" from the value of "+n,
				"the value of %s contains %s", n, t.shown)
		}
	}
	if len(v) > MaxEnvValueBytes {
		return errcode.Deny(errcode.EnvInvalid, LayerEnvironment,
			fmt.Sprintf("keep each value at most %d bytes (pass large data through stdin or a file)", MaxEnvValueBytes),
			"the value of %s is %d bytes, the maximum is %d", n, len(v), MaxEnvValueBytes)
	}
	return nil
}

// composeEnvironment builds the child's sorted environment from checked
// request variables: the base, the inheritEnvVars, the request's
// variables, the proxy variables when proxied, and HOME (home, the
// agent's own directory, or "/" when "") last.
func (p *Policy) composeEnvironment(home string, reqEnv map[string]string) []string {
	env := make(map[string]string, 5+len(p.cfg.InheritEnvVars)+len(reqEnv))
	env["PATH"] = p.searchPath
	env["LANG"] = "C.UTF-8"
	env["TERM"] = "dumb"
	env["TMPDIR"] = "/tmp"
	for _, n := range p.cfg.InheritEnvVars {
		if v := p.getenv(n); v != "" {
			env[n] = v
		}
	}
	for n, v := range reqEnv {
		env[n] = v
	}
	if p.proxied { // over inheritEnvVars too
		for _, kv := range ProxyEnv() {
			n, v, _ := strings.Cut(kv, "=")
			env[n] = v
		}
	}
	// Last: nothing overrides it (inheritEnvVars and requests cannot name it).
	env["HOME"] = "/"
	if home != "" {
		env["HOME"] = home
	}
	// Every "NAME=value" is a piece of one string: one allocation. out
	// holds the names first (a map's order is not the same twice).
	out := make([]string, 0, len(env))
	size := 0
	for n, v := range env {
		out = append(out, n)
		size += len(n) + 1 + len(v)
	}
	var b strings.Builder
	b.Grow(size)
	for _, n := range out {
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(env[n])
	}
	all := b.String()
	for i, n := range out {
		k := len(n) + 1 + len(env[n])
		out[i], all = all[:k], all[k:]
	}
	slices.Sort(out)
	return out
}
