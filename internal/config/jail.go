package config

import (
	"os"
)

// ComposedJail reports whether c asks for a jail composed at launch (SPEC
// 7.3): enableChroot without chrootDirectory, as the maximum and cicd
// profiles do. The jail holds the host's system directories (/usr, /bin,
// /sbin, /lib*, /etc without its secrets) read-only and the allowed working
// directories, each at its host path, so paths in the config and in
// requests are host paths, as without a jail.
func (c *Config) ComposedJail() bool { return c.EnableChroot && c.ChrootDirectory == "" }

// JailRoot is the host path of the user's own jail (chrootDirectory with
// enableChroot), "" without one or with a composed jail: the directory that
// config paths (working directories, executables, writablePaths) are inside.
func (c *Config) JailRoot() string {
	if c.EnableChroot {
		return c.ChrootDirectory
	}
	return ""
}

// jailRemedy says what a jail directory needs, for the error about a
// missing one.
const jailRemedy = "a jail is a directory holding everything the jailed programs use, at the paths they use it: the allowed executables and their shared libraries (ldd shows them; /lib, /lib64, /usr/lib), the dynamic loader, the #! interpreters of scripts, /etc files they read (passwd, group, resolv.conf, ssl certificates), an empty /proc, /dev and /tmp, and the allowed working directories; " +
	"create it (debootstrap, or copy the tools with their libraries), or remove chrootDirectory so that the server composes a jail at launch from the host's /usr, /bin, /sbin, /lib* and /etc (read-only) and the working directories, or set enableChroot to false"

// checkJail: a user's chrootDirectory must be an existing directory; none
// asks for the composed jail.
func (c *Config) checkJail() *Error {
	if !c.EnableChroot || c.ChrootDirectory == "" {
		return nil
	}
	if fi, err := os.Stat(c.ChrootDirectory); err != nil || !fi.IsDir() {
		return invalid("chrootDirectory", jailRemedy, "enableChroot is true but chrootDirectory %q is not an existing directory", c.ChrootDirectory)
	}
	return nil
}
