package main

import (
	"os"
	"path/filepath"
	"sync"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
)

// sealedFiles remembers, per loaded configuration, the policy's files that
// every child sees read-only (SPEC 7.1a: the agent cannot change the
// policy, not even for the next start).
var sealedFiles sync.Map // *config.Config -> []string

// policyFiles remembers, per loaded configuration, the policy's files that
// may lie nowhere a child may write (placement.go), each with what names
// it in the config.
var policyFiles sync.Map // *config.Config -> []policyFile

// policyFile is one of the policy's files and the key (or flag) that
// places it.
type policyFile struct {
	path   string // absolute, its real path when it exists
	what   string // "auditLogPath (the audit log, its head and rotated files)"
	stable bool   // the server never renames over it (the config file read, its own binary)
}

// sealPolicyFiles lists the policy's files of loaded: the config file it
// was read from, the config sources a later start in cwd would read, the
// audit and violation logs and their heads, the record of
// config sources, and the server binary. Those that do not exist yet are
// listed too (the stage skips them). The files placement refuses where
// children may write are those, but the heads and the config sources that
// were not read, and the signing key (masked in the children's view).
func sealPolicyFiles(loaded *config.Loaded, cwd string) {
	cfg := loaded.Config
	var files []string
	var placed []policyFile
	add := func(p, what string) {
		if !filepath.IsAbs(p) {
			return
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		files = append(files, filepath.Clean(p))
		if what != "" {
			placed = append(placed, policyFile{path: filepath.Clean(p), what: what})
		}
	}
	add(loaded.Path, "the config file")
	if len(placed) > 0 {
		placed[0].stable = true
	}
	add(filepath.Join(cwd, config.LocalFile), "")
	add(filepath.Join(cwd, config.LocalDirFile), "")
	if cfg.EnableAuditLog {
		add(cfg.AuditLogPath, "auditLogPath (the audit log, its head and its rotated files)")
		add(audit.HeadPath(cfg.AuditLogPath), "") // the heads (SPEC 7.2) are policy files too
	}
	// The violation log goes with the audit log, or with alerts (openAudit).
	if cfg.EnableAuditLog || cfg.EnableSecurityAlerts {
		v := cfg.SecurityViolationLogPath
		if v == "" && cfg.AuditLogPath != "" {
			v = audit.DefaultViolationPath(cfg.AuditLogPath)
		}
		add(v, "securityViolationLogPath (the violation log, its head and its rotated files)")
		add(audit.HeadPath(v), "")
	}
	if k := cfg.AuditSigningKeyFile; filepath.IsAbs(k) {
		// Masked, not sealed, in the children's view (isolationOf): only
		// placed.
		if real, err := filepath.EvalSymlinks(k); err == nil {
			k = real
		}
		placed = append(placed, policyFile{path: filepath.Clean(k), what: "auditSigningKeyFile (the key that signs the audit log)"})
	}
	add(config.WatchFor(os.Getenv).Path, "the record of config sources children could create (in the state directory: XDG_STATE_HOME)")
	if exe, err := os.Executable(); err == nil {
		add(exe, "the server binary")
		placed[len(placed)-1].stable = true
	}
	sealedFiles.Store(cfg, files)
	policyFiles.Store(cfg, placed)
}

// policyFilesOf returns what sealPolicyFiles listed for cfg for placement.
func policyFilesOf(cfg *config.Config) []policyFile {
	v, _ := policyFiles.Load(cfg)
	l, _ := v.([]policyFile)
	return l
}
