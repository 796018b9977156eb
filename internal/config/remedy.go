package config

import (
	"strings"

	json "github.com/go-json-experiment/json"
)

// fitRemedy makes the remedy of e, an error about the loaded configuration
// c, fit how that configuration was given (SPEC 7.3): a key that comes from
// the built-in profile (--profile alone, or a file that does not set it)
// cannot be removed from any file the user has, so the remedy says to lay a
// file over the profile that sets it instead, with the JSON to write; a key
// the user's own file sets keeps its remedy.
func fitRemedy(e *Error, c *Config, profile string, fromFile bool, explicit Explicit) {
	if e == nil || e.Key == "" || profile == "" {
		return
	}
	top, _, _ := strings.Cut(e.Key, ".")
	top, _, _ = strings.Cut(top, "[")
	override := overrideExample(c, e.Key)
	if fromFile && (explicit[e.Key] || explicit[top]) {
		// The user's file sets it: the remedy speaks of that file, but
		// removing the key there leaves the profile's value in force.
		if p, err := Profile(profile); err == nil && overrideExample(p, e.Key) != "" && isOn(p, e.Key) {
			e.Remedy = strings.Replace(e.Remedy, "remove \""+e.Key+"\" from the configuration or set it to false/empty",
				"set \""+e.Key+"\" to false/empty in your file (removing it there leaves the profile "+profile+"'s value, which sets it too)", 1)
		}
		return
	}
	how := "lay a configuration file over the profile that sets it (mcp-process --profile " + profile + " --config FILE, or " + EnvConfigJSON + ")"
	if override != "" {
		how += ", e.g. " + override
	}
	what := strings.TrimSpace(e.Remedy)
	// "remove X from the configuration": there is no file to remove it from.
	if strings.HasPrefix(what, "remove ") && strings.Contains(what, "from the configuration") {
		what = ""
	}
	r := e.Key + " comes from the built-in profile " + profile + ", not from a file of yours: " + how
	if what != "" {
		r = what + "; " + r
	}
	e.Remedy = r + ", or use another --profile"
}

// isOn reports whether key is true or a non-empty list in c.
func isOn(c *Config, key string) bool {
	v := valueAt(c, key)
	switch x := v.(type) {
	case bool:
		return x
	case []any:
		return len(x) > 0
	}
	return false
}

// valueAt is c's value at key (top or top.member) as generic JSON.
func valueAt(c *Config, key string) any {
	b, err := json.Marshal(c)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	segs := strings.Split(key, ".")
	if len(segs) > 2 || strings.Contains(key, "[") {
		return nil
	}
	var v any = m
	for _, s := range segs {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[s]
	}
	return v
}

// overrideExample is the JSON that turns key off in a file laid over a
// profile: false for a boolean, [] for a list, "" when neither.
func overrideExample(c *Config, key string) string {
	segs := strings.Split(key, ".")
	v := valueAt(c, key)
	var off string
	switch v.(type) {
	case bool:
		off = "false"
	case []any:
		off = "[]"
	default:
		return ""
	}
	if len(segs) == 2 {
		return `{"` + segs[0] + `": {"` + segs[1] + `": ` + off + `}}`
	}
	return `{"` + segs[0] + `": ` + off + `}`
}
