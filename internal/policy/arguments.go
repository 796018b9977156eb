package policy

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// argPattern is a compiled blockedArgumentPatterns entry.
type argPattern struct {
	index int
	re    *regexp.Regexp
}

// injectionPatterns are refused in arguments when blockInjectionPatterns is
// on (seed compatibility: no shell ever parses these arguments).
var injectionPatterns = []struct{ token, shown string }{
	{"$(", "$("},
	{"`", "backtick"},
	{"|", "|"},
	{";", ";"},
	{"&", "&"},
	{"\n", "newline"},
	{"../", "../"},
	{`..\`, `..\`},
}

// compileArguments compiles blockedArgumentPatterns as RE2, anchored to
// match the whole argument; "." also matches a newline so a pattern cannot be
// dodged by a line break.
func (p *Policy) compileArguments() *errcode.Error {
	for i, s := range p.cfg.BlockedArgumentPatterns {
		re, err := config.ArgumentPattern(s)
		if err != nil {
			return notValidated(fmt.Sprintf("blockedArgumentPatterns[%d]", i), err)
		}
		p.argPatterns = append(p.argPatterns, argPattern{index: i, re: re})
	}
	return nil
}

// CheckArguments applies SPEC 3.2 to the arguments (argv without argv[0]).
// A refusal names the argument's index and the rule, never the argument's
// value (it may be a secret).
func (p *Policy) CheckArguments(args []string) *errcode.Error {
	if limit := p.cfg.MaxArgumentCount; limit > 0 && len(args) > limit {
		return errcode.Deny(errcode.ArgumentInvalid, LayerArguments,
			"pass at most maxArgumentCount arguments, or raise maxArgumentCount",
			"%d arguments given, maxArgumentCount is %d", len(args), limit)
	}
	for i, a := range args {
		if limit := p.cfg.MaxArgumentLength; limit > 0 && len(a) > limit {
			return errcode.Deny(errcode.ArgumentInvalid, LayerArguments,
				"shorten the argument (pass large data through stdin or a file), or raise maxArgumentLength",
				"args[%d] is %d bytes long, maxArgumentLength is %d", i, len(a), limit)
		}
		if strings.IndexByte(a, 0) >= 0 {
			return errcode.Deny(errcode.ArgumentInvalid, LayerArguments,
				"remove the NUL byte: execve cannot pass it",
				"args[%d] contains a NUL byte", i)
		}
		if p.cfg.BlockInjectionPatterns {
			for _, ip := range injectionPatterns {
				if strings.Contains(a, ip.token) {
					return errcode.Deny(errcode.ArgumentInvalid, LayerArguments,
						"remove the "+ip.shown+" from the argument (no shell parses arguments; argv goes to execve as is), or set blockInjectionPatterns to false",
						"args[%d] contains the blocked sequence %s", i, ip.shown)
				}
			}
		}
		for _, bp := range p.argPatterns {
			if bp.re.MatchString(a) {
				return errcode.Deny(errcode.ArgumentInvalid, LayerArguments,
					"do not pass this argument, or change blockedArgumentPatterns",
					"args[%d] matches blockedArgumentPatterns[%d]", i, bp.index)
			}
		}
	}
	return nil
}
