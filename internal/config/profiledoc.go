package config

import "fmt"

// ProfileDocument returns the JSON document of the named built-in profile,
// as Profile lays it over the defaults (for `mcp-process init`, which
// writes it into a starting file).
func ProfileDocument(name string) ([]byte, error) {
	doc, ok := profileDocs[name]
	if !ok {
		return nil, invalid("profile", fmt.Sprintf("use one of %v", ProfileNames()), "unknown profile %q", name)
	}
	return []byte(doc), nil
}
