package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
)

// configWarnings are what validate, doctor and serve say about a config
// that is valid but will not work as its author likely expects (SPEC 7.1:
// an allowed working directory the children cannot enter or write).
//
// A missing allowed working directory is a warning here (the directory may
// be created later) and CWD_NOT_FOUND at launch (SPEC 7.3).
func configWarnings(cfg *config.Config) []string {
	out := executableWarnings(cfg)
	var present []string
	var index []int
	for i, d := range cfg.AllowedWorkingDirectories {
		if cfg.EnableChroot {
			d = filepath.Join(cfg.ChrootDirectory, d)
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			why := "does not exist"
			if err == nil {
				why = "is not a directory"
			} else if !errors.Is(err, fs.ErrNotExist) {
				why = "cannot be read (" + err.Error() + ")"
			}
			out = append(out, "allowedWorkingDirectories["+strconv.Itoa(i)+"] "+d+" "+why+": launches there fail with CWD_NOT_FOUND until it is created")
			continue
		}
		present = append(present, d)
		index = append(index, i)
	}
	id, e := cfg.Identity()
	if e != nil || !id.Set || id.InUserNS {
		// A non-root server's children are the server's own uid; ids in a
		// user namespace are unprivileged host ids that own nothing, which
		// docs/isolation.md says.
		return out
	}
	for j, d := range present {
		i := index[j]
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

// executableWarnings names each allowedExecutables entry that matches no
// file on this host (a name in no searchPath directory, a path or glob
// that finds nothing): launching it would fail.
func executableWarnings(cfg *config.Config) []string {
	var out []string
	root := ""
	if cfg.EnableChroot {
		root = cfg.ChrootDirectory
	}
	exists := func(p string) bool {
		p = filepath.Join(root, p)
		if strings.ContainsAny(p, "*?[") {
			m, _ := filepath.Glob(p)
			return len(m) > 0
		}
		fi, err := os.Stat(p)
		return err == nil && !fi.IsDir()
	}
	for i, e := range cfg.AllowedExecutables {
		found := false
		if filepath.IsAbs(e) {
			found = exists(e)
		} else {
			for _, d := range filepath.SplitList(cfg.SearchPath) {
				if filepath.IsAbs(d) && exists(filepath.Join(d, e)) {
					found = true
					break
				}
			}
		}
		if !found {
			where := "on this host"
			if !filepath.IsAbs(e) {
				where = "in searchPath (" + cfg.SearchPath + ")"
			}
			out = append(out, "allowedExecutables["+strconv.Itoa(i)+"] "+strconv.Quote(e)+" matches no file "+where+": launching it fails until it is installed")
		}
	}
	return out
}
