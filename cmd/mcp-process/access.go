package main

import (
	"path/filepath"
	"strconv"

	"github.com/mcp-process/mcp-process/internal/config"
)

// configWarnings are what validate, doctor and serve say about a config
// that is valid but will not work as its author likely expects (SPEC 7.1:
// an allowed working directory the children cannot enter or write).
func configWarnings(cfg *config.Config) []string {
	id, e := cfg.Identity()
	if e != nil || !id.Set || id.InUserNS {
		// A non-root server's children are the server's own uid; ids in a
		// user namespace are unprivileged host ids that own nothing, which
		// docs/isolation.md says.
		return nil
	}
	var out []string
	for i, d := range cfg.AllowedWorkingDirectories {
		if cfg.EnableChroot {
			d = filepath.Join(cfg.ChrootDirectory, d)
		}
		enter, write, why := childAccess(d, id.UID, id.GID)
		switch {
		case !enter:
			out = append(out, "allowedWorkingDirectories["+strconv.Itoa(i)+"] "+d+": the children (uid "+strconv.FormatUint(uint64(id.UID), 10)+") cannot enter it ("+why+"); give them access (chmod/chown), or set runAsUser to a user who has it")
		case !write:
			out = append(out, "allowedWorkingDirectories["+strconv.Itoa(i)+"] "+d+": the children (uid "+strconv.FormatUint(uint64(id.UID), 10)+") cannot write it ("+why+"); give them write access if they must create files there, or set runAsUser")
		}
	}
	return out
}
