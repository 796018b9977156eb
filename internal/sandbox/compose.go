package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
)

// ComposedSystemDirs are the host directories a composed jail (SPEC 7.3:
// enableChroot without chrootDirectory, as the maximum and cicd profiles
// ask) holds read-only, at their own paths; the ones a host lacks are
// left out, and a link among them (/bin -> usr/bin) is a link in the jail.
var ComposedSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc"}

// ComposedEtcSecrets are the files of /etc a composed jail hides (SPEC
// 7.3: "/etc without its secrets"): password hashes, sudo rules, the
// host's SSH keys, private TLS keys.
var ComposedEtcSecrets = []string{
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd",
	"/etc/sudoers", "/etc/sudoers.d", "/etc/ssh", "/etc/ssl/private", "/etc/machine-id",
}

// composeJail fills the composed jail's lists from c: the system
// directories read-only; the allowed working directories and writablePaths
// writable (their real paths: the stage opens them refusing links); the
// directories of absolute allowedExecutables outside the system ones
// read-only. Paths in the jail are the host's, so the policy resolves
// executables and working directories on the host as without a jail.
func (iso *Isolation) composeJail(c *config.Config) {
	iso.Compose = true
	add := func(list *[]string, p string) {
		if !filepath.IsAbs(p) {
			return
		}
		p = filepath.Clean(p)
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		if !slices.Contains(*list, p) {
			*list = append(*list, p)
		}
	}
	for _, d := range ComposedSystemDirs {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(d); err == nil {
				iso.ComposeLinks = append(iso.ComposeLinks, d, t)
			}
		case fi.IsDir():
			iso.ComposeRO = append(iso.ComposeRO, d)
		}
	}
	for _, e := range c.AllowedExecutables {
		if !filepath.IsAbs(e) {
			continue
		}
		d := literalDir(e)
		if real, err := filepath.EvalSymlinks(d); err == nil {
			d = real
		}
		if !beneathAnyDir(d, iso.ComposeRO) {
			add(&iso.ComposeRO, d)
		}
	}
	// The searchPath directories executables are found in (/opt/node/bin).
	for _, d := range filepath.SplitList(c.SearchPath) {
		if !filepath.IsAbs(d) {
			continue
		}
		if real, err := filepath.EvalSymlinks(d); err == nil && !beneathAnyDir(real, iso.ComposeRO) {
			if fi, err := os.Stat(real); err == nil && fi.IsDir() {
				add(&iso.ComposeRO, real)
			}
		}
	}
	for _, d := range c.AllowedWorkingDirectories {
		add(&iso.ComposeRW, d)
	}
	for _, w := range c.WritablePaths {
		add(&iso.ComposeRW, w)
	}
	iso.Masked = append(iso.Masked, ComposedEtcSecrets...)
}

// beneathAnyDir reports whether p is one of dirs or lies beneath one.
func beneathAnyDir(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// composedLayer names a composed jail in reports.
func (iso *Isolation) composedLayer() string {
	return "chroot (composed at launch: " + strings.Join(iso.ComposeRO, ", ") + " read-only; the working directories)"
}

// composeExecDirs adds to the composed jail, read-only, the directories of
// the files the whole tree may execute (executablePolicyScope "tree") that
// it does not hold yet, so that every one of them is there to run.
func (iso *Isolation) composeExecDirs() {
	for _, e := range iso.ExecPaths {
		d := filepath.Dir(e)
		if !beneathAnyDir(d, iso.ComposeRO) && !beneathAnyDir(d, iso.ComposeRW) {
			iso.ComposeRO = append(iso.ComposeRO, d)
		}
	}
}
