package policy

import (
	"fmt"
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

// validEnvName reports whether n matches ^[A-Za-z_][A-Za-z0-9_]*$ (what
// the regexp it replaces matched: ASCII only, so any other byte fails),
// without running a regexp on every name of every request.
func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

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
	if !validEnvName(n) {
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
// agent's own directory, or "/" when "") last. A later setting of a name
// replaces an earlier one.
func (p *Policy) composeEnvironment(home string, reqEnv map[string]string) []string {
	// A few names, set in order: a slice searched linearly (on the stack
	// for up to 16 names) does what a map did, without hashing.
	var buf [16]envVar
	e := envSet(buf[:0])
	e = e.set("PATH", p.searchPath)
	e = e.set("LANG", "C.UTF-8")
	e = e.set("TERM", "dumb")
	e = e.set("TMPDIR", "/tmp")
	for _, n := range p.cfg.InheritEnvVars {
		if v := p.getenv(n); v != "" {
			e = e.set(n, v)
		}
	}
	for n, v := range reqEnv {
		e = e.set(n, v)
	}
	if p.proxied { // over inheritEnvVars too
		for _, kv := range ProxyEnv() {
			n, v, _ := strings.Cut(kv, "=")
			e = e.set(n, v)
		}
	}
	// Last: nothing overrides it (inheritEnvVars and requests cannot name it).
	if home == "" {
		home = "/"
	}
	e = e.set("HOME", home)
	// Every "NAME=value" is a piece of one string: one allocation.
	size := 0
	for _, kv := range e {
		size += len(kv.name) + 1 + len(kv.value)
	}
	var b strings.Builder
	b.Grow(size)
	for _, kv := range e {
		b.WriteString(kv.name)
		b.WriteByte('=')
		b.WriteString(kv.value)
	}
	all := b.String()
	out := make([]string, len(e))
	for i, kv := range e {
		k := len(kv.name) + 1 + len(kv.value)
		out[i], all = all[:k], all[k:]
	}
	slices.Sort(out)
	return out
}

// envVar is one variable of an environment being composed.
type envVar struct{ name, value string }

// envSet is the variables of an environment being composed, each name
// once.
type envSet []envVar

// set gives name the value v, replacing an earlier value of the same
// name (names compared exactly, as map keys are), and returns the set.
func (e envSet) set(name, v string) envSet {
	for i := range e {
		if e[i].name == name {
			e[i].value = v
			return e
		}
	}
	return append(e, envVar{name, v})
}
