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
)

// watchConfigSources is the start of a command that launches children
// (serve, run). First the policy's files must lie nowhere Landlock lets
// the children write (placePolicyFiles: refused otherwise, whatever their
// uid). Then, when the children have the server's uid, each local config
// source of the start directory that does not exist and that they could
// create is recorded (config.SourceWatch), so that a later start does not
// take a file a child planted there for its policy. Where they have their
// own uid, the config file's owner check refuses such a file already.
func watchConfigSources(loaded *config.Loaded, pol *policy.Policy, cwd string, logger *slog.Logger) error {
	iso, _ := isolationOf(loaded.Config)
	if err := placePolicyFiles(loaded.Config, &iso, pol); err != nil {
		return err
	}
	if iso.HomeOwner().Set {
		return nil
	}
	w := config.WatchFor(os.Getenv)
	if w.Path == "" {
		return nil
	}
	writable := childWritable(&iso, pol)
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
