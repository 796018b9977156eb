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
	// One field at a time, in this order (the first refusal wins): no
	// table of pointers into eff, which would move eff to the heap.
	v, err := effectiveInt("maxMemoryMB", req.MaxMemoryMB, def.MaxMemoryMB, maxi.MaxMemoryMB)
	if err != nil {
		return eff, 0, err
	}
	eff.MaxMemoryMB = v
	v, err = effectiveInt("maxFileDescriptors", req.MaxFileDescriptors, def.MaxFileDescriptors, maxi.MaxFileDescriptors)
	if err != nil {
		return eff, 0, err
	}
	eff.MaxFileDescriptors = v
	v, err = effectiveInt("maxCpuTime", req.MaxCpuTime, def.MaxCpuTime, maxi.MaxCpuTime)
	if err != nil {
		return eff, 0, err
	}
	eff.MaxCpuTime = v
	v, err = effectiveInt("maxProcesses", req.MaxProcesses, def.MaxProcesses, maxi.MaxProcesses)
	if err != nil {
		return eff, 0, err
	}
	eff.MaxProcesses = v
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

// effectiveInt is effective for an integer limit (compared as float64,
// as before).
func effectiveInt(name string, req, def, max int64) (int64, *errcode.Error) {
	v, err := effective(name, float64(req), float64(def), float64(max))
	return int64(v), err
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
