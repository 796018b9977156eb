package policy

import (
	"fmt"
	"strconv"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
)

// EffectiveLimits fills the request's zero limits from defaultResourceLimits,
// refuses negative values (INVALID_INPUT) and values above a non-zero
// maximumResourceLimits field (RESOURCE_LIMIT_EXCEEDS_MAXIMUM), and returns
// the lifetime: maxProcessLifetime seconds, shortened by a positive timeout
// (0 = no lifetime limit configured and no timeout).
func (p *Policy) EffectiveLimits(req config.ResourceLimits, timeout time.Duration) (config.ResourceLimits, time.Duration, *errcode.Error) {
	def, maxi := p.cfg.DefaultResourceLimits, p.cfg.MaximumResourceLimits
	eff := req
	var err *errcode.Error
	if eff.MaxCpuPercent, err = effective("maxCpuPercent", req.MaxCpuPercent, def.MaxCpuPercent, maxi.MaxCpuPercent); err != nil {
		return eff, 0, err
	}
	for _, f := range [...]struct {
		name          string
		req, def, max int64
		eff           *int64
	}{
		{"maxMemoryMB", req.MaxMemoryMB, def.MaxMemoryMB, maxi.MaxMemoryMB, &eff.MaxMemoryMB},
		{"maxFileDescriptors", req.MaxFileDescriptors, def.MaxFileDescriptors, maxi.MaxFileDescriptors, &eff.MaxFileDescriptors},
		{"maxCpuTime", req.MaxCpuTime, def.MaxCpuTime, maxi.MaxCpuTime, &eff.MaxCpuTime},
		{"maxProcesses", req.MaxProcesses, def.MaxProcesses, maxi.MaxProcesses, &eff.MaxProcesses},
	} {
		v, err := effective(f.name, float64(f.req), float64(f.def), float64(f.max))
		if err != nil {
			return eff, 0, err
		}
		*f.eff = int64(v)
	}
	if timeout < 0 {
		return eff, 0, errcode.Fail(errcode.InvalidInput, LayerResourceLimits,
			"use a positive timeout, or omit it", "timeout is negative")
	}
	life := time.Duration(p.cfg.MaxProcessLifetime) * time.Second
	if timeout > 0 && (life <= 0 || timeout < life) {
		life = timeout
	}
	return eff, life, nil
}

// effective is one limit: the requested value, or the default for 0;
// refused when negative or above a non-zero maximum.
func effective(name string, req, def, max float64) (float64, *errcode.Error) {
	if req < 0 {
		return 0, errcode.Fail(errcode.InvalidInput, LayerResourceLimits,
			"use a positive value, or omit it to get the default",
			"resourceLimits.%s is negative (%s)", name, num(req))
	}
	v := req
	if v == 0 {
		v = def
	}
	if max > 0 && v > max {
		src := "requested"
		if req == 0 {
			src = "default"
		}
		return 0, errcode.Deny(errcode.ResourceLimitExceedsMaximum, LayerResourceLimits,
			fmt.Sprintf("request %s of at most %s", name, num(max)),
			"%s resourceLimits.%s %s exceeds maximumResourceLimits.%s %s", src, name, num(v), name, num(max))
	}
	return v, nil
}

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
