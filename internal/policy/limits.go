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
	type field struct {
		name          string
		req, def, max float64
		set           func(float64)
	}
	fields := []field{
		{"maxCpuPercent", req.MaxCpuPercent, def.MaxCpuPercent, maxi.MaxCpuPercent, func(v float64) { eff.MaxCpuPercent = v }},
		{"maxMemoryMB", float64(req.MaxMemoryMB), float64(def.MaxMemoryMB), float64(maxi.MaxMemoryMB), func(v float64) { eff.MaxMemoryMB = int64(v) }},
		{"maxFileDescriptors", float64(req.MaxFileDescriptors), float64(def.MaxFileDescriptors), float64(maxi.MaxFileDescriptors), func(v float64) { eff.MaxFileDescriptors = int64(v) }},
		{"maxCpuTime", float64(req.MaxCpuTime), float64(def.MaxCpuTime), float64(maxi.MaxCpuTime), func(v float64) { eff.MaxCpuTime = int64(v) }},
		{"maxProcesses", float64(req.MaxProcesses), float64(def.MaxProcesses), float64(maxi.MaxProcesses), func(v float64) { eff.MaxProcesses = int64(v) }},
	}
	for _, f := range fields {
		if f.req < 0 {
			return eff, 0, errcode.Fail(errcode.InvalidInput, LayerResourceLimits,
				"use a positive value, or omit it to get the default",
				"resourceLimits.%s is negative (%s)", f.name, num(f.req))
		}
		v := f.req
		if v == 0 {
			v = f.def
			f.set(v)
		}
		if f.max > 0 && v > f.max {
			src := "requested"
			if f.req == 0 {
				src = "default"
			}
			return eff, 0, errcode.Deny(errcode.ResourceLimitExceedsMaximum, LayerResourceLimits,
				fmt.Sprintf("request %s of at most %s", f.name, num(f.max)),
				"%s resourceLimits.%s %s exceeds maximumResourceLimits.%s %s", src, f.name, num(v), f.name, num(f.max))
		}
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

func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
