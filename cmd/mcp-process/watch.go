package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
)

// watchConfigSources is the start of a command that launches children
// (serve, run): when they have the server's uid, each local config source
// of the start directory that does not exist and that they could create is
// recorded (config.SourceWatch), so that a later start does not take a file
// a child planted there for its policy. Where they have their own uid, the
// config file's owner check refuses such a file already.
func watchConfigSources(loaded *config.Loaded, pol *policy.Policy, cwd string, logger *slog.Logger) error {
	iso, _ := isolationOf(loaded.Config)
	if iso.HomeOwner().Set {
		return nil
	}
	w := config.WatchFor(os.Getenv)
	if w.Path == "" {
		return nil
	}
	writable := childWritable(&iso, pol)
	if len(iso.Private) == 0 && iso.Landlock {
		// No mount namespace to seal the policy's files in: one that lies
		// where Landlock lets the children write is refused (SPEC 7.1a).
		files, _ := sealedFiles.Load(loaded.Config)
		list, _ := files.([]string)
		if p, dir := unsealable(list, writable); p != "" {
			return exitf(2, "the policy's file %s lies inside %s, where the children may write, and this server has no mount namespace to seal it read-only in their view (unprivileged user namespaces are not available here): a child could change the policy; move it out of the allowed working directories and writablePaths (--config for a config file, auditLogPath for a log), allow unprivileged user namespaces, or run the server as root", p, dir)
		}
	}
	var watch []string
	for _, p := range config.LocalSources(cwd) {
		if !iso.Landlock || insideAny(existingAncestor(filepath.Dir(p)), writable) {
			watch = append(watch, p)
		}
	}
	added, err := w.Watch(watch, time.Now())
	if err != nil {
		return exitf(2, "cannot record the config sources the children could create (%s): %v", w.Path, err)
	}
	for _, p := range added {
		logger.Info("a later start in this directory will refuse this config file if it appears, since this server's children could create it: load it with --config after review", "path", p)
	}
	return nil
}

// clearWatchedSource: a config file given explicitly (--config,
// MCP_PROCESS_CONFIG_PATH) is the user's choice, so it is no longer
// refused as a local source.
func clearWatchedSource(loaded *config.Loaded) error {
	if loaded.Path == "" || loaded.Local {
		return nil
	}
	w := config.WatchFor(os.Getenv)
	if w.Path == "" {
		return nil
	}
	if err := w.Clear(loaded.Path); err != nil {
		return exitf(2, "cannot update the record of watched config sources (%s): %v", w.Path, err)
	}
	return nil
}

// childWritable lists where Landlock lets the children write: the allowed
// working directories, writablePaths and the agents' HOMEs.
func childWritable(iso *sandbox.Isolation, pol *policy.Policy) []string {
	writable := append(append([]string{}, iso.Dirs...), iso.WritablePaths...)
	if root := pol.HomesRoot(); root != "" {
		writable = append(writable, root)
	}
	return writable
}

// unsealable returns the first of files that exists inside one of
// writable, and that directory ("" when none does).
func unsealable(files, writable []string) (string, string) {
	for _, f := range files {
		if _, err := os.Lstat(f); err != nil {
			continue
		}
		dir := existingAncestor(filepath.Dir(f))
		for _, w := range writable {
			if insideAny(dir, []string{w}) {
				return f, w
			}
		}
	}
	return "", ""
}

// existingAncestor is the real path of dir's nearest existing ancestor
// (dir itself when it exists).
func existingAncestor(dir string) string {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return real
		} else if !errors.Is(err, fs.ErrNotExist) || d == "/" {
			return d
		}
	}
}

// insideAny reports whether path is one of dirs or beneath one (dirs
// resolved when they exist).
func insideAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			d = real
		}
		d = filepath.Clean(d)
		if path == d || d == "/" || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// startDir is the directory the command was started in ("" when it cannot
// be read: loadPolicy refused that already).
func startDir() string {
	d, _ := os.Getwd()
	return d
}
