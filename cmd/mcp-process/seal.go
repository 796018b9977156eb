package main

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/mcp-process/mcp-process/internal/config"
)

// sealedFiles remembers, per loaded configuration, the policy's files that
// every child sees read-only (SPEC 7.1a: the agent cannot change the
// policy, not even for the next start).
var sealedFiles sync.Map // *config.Config -> []string

// sealPolicyFiles lists the policy's files of loaded: the config file it
// was read from, the config sources a later start in cwd would read, the
// audit and violation logs, and the server binary. Those that do not exist
// yet are listed too (the stage skips them).
func sealPolicyFiles(loaded *config.Loaded, cwd string) {
	cfg := loaded.Config
	var files []string
	add := func(p string) {
		if !filepath.IsAbs(p) {
			return
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		files = append(files, filepath.Clean(p))
	}
	add(loaded.Path)
	add(filepath.Join(cwd, config.LocalFile))
	add(filepath.Join(cwd, config.LocalDirFile))
	if cfg.EnableAuditLog {
		add(cfg.AuditLogPath)
		add(cfg.SecurityViolationLogPath)
		add(cfg.AuditLogPath + ".head") // the heads (SPEC 7.2) are policy files too
		add(cfg.SecurityViolationLogPath + ".head")
	}
	add(config.WatchFor(os.Getenv).Path) // the record of config sources children could create
	if exe, err := os.Executable(); err == nil {
		add(exe)
	}
	sealedFiles.Store(cfg, files)
}
