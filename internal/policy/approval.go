package policy

import (
	"path"
	"strings"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// LayerApproval is the layer of a launch or termination a person did not
// approve (CONFIRMATION_DENIED).
const LayerApproval = layer.Approval

// compileConfirmation compiles requireConfirmationFor like
// allowedExecutables: a bare name or glob matches the resolved file's name
// (or the name it was found under in searchPath), an absolute path or a
// glob with a slash its real path.
func (p *Policy) compileConfirmation() *errcode.Error {
	for i, e := range p.cfg.RequireConfirmationFor {
		if e == "" {
			return errcode.Fail(errcode.InvalidInput, LayerConfig, "remove the empty entry",
				"requireConfirmationFor[%d] is empty", i)
		}
		ent := allowEntry{raw: e, isPath: strings.Contains(e, "/"), isGlob: strings.ContainsAny(e, `*?[\`)}
		if ent.isPath && !path.IsAbs(e) {
			return errcode.Fail(errcode.InvalidInput, LayerConfig,
				"use a bare name (matched like allowedExecutables) or an absolute path",
				"requireConfirmationFor[%d] (%q) is a relative path", i, e)
		}
		if _, err := path.Match(e, ""); err != nil {
			return errcode.Fail(errcode.InvalidInput, LayerConfig,
				"fix the glob (path.Match syntax: * ? [a-z])",
				"requireConfirmationFor[%d] (%q) is not a valid glob: %v", i, e, err)
		}
		if ent.isPath && !ent.isGlob {
			ent.raw = path.Clean(e)
		}
		p.confirmFor = append(p.confirmFor, ent)
	}
	return nil
}
