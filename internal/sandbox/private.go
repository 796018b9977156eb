package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
)

// privateDirs are the host directories where services keep their sockets
// and programs their scratch files (SPEC 7.1a): each child gets an empty
// one of its own. /var/run is usually a link to /run; the server user's
// $XDG_RUNTIME_DIR (/run/user/UID) is added when it lies elsewhere.
var privateDirs = []string{"/tmp", "/var/tmp", "/dev/shm", "/run", "/var/run"}

// hostFilesInRun are /etc files that are often links into /run.
var hostFilesInRun = []string{"/etc/resolv.conf"}

// SecretLocations are the server user's well-known credential locations,
// relative to its home: hidden (unreadable) in every child's view.
var SecretLocations = []string{
	".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".gnupg", ".netrc",
	".git-credentials", ".npmrc", ".pypirc", ".config/gh", ".config/hub", ".password-store",
	".vault-token", ".cargo/credentials", ".cargo/credentials.toml", ".terraform.d/credentials.tfrc.json",
	".gem/credentials", ".m2/settings.xml", ".config/op",
	".mozilla", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".config/microsoft-edge",
}

// privateViewLayer names the private view in reports.
const privateViewLayer = "private view (own /tmp, /var/tmp, /run, /dev/shm; credentials and hiddenPaths hidden)"

// hideReadLayer names the hidden paths' read layer in reports.
const hideReadLayer = "hidden paths unreadable by name, also when replaced on the host (Landlock)"

// privateView fills iso.Private, Keep and Masked from c, or says in
// Missing why this host gives no private view.
func (iso *Isolation) privateView(c *config.Config) {
	if os.Geteuid() != 0 && !iso.Namespaces.User {
		if err := selfUserNS(); err != nil {
			iso.Missing = append(iso.Missing, "a private view of the host (SPEC 7.1a: private /tmp, /run, /dev/shm, hidden credentials, the policy's files read-only) needs a mount namespace, which this unprivileged server cannot create here ("+err.Error()+"): run the server as root")
			return
		}
		iso.SelfUser = true
	}
	dirs := slices.Clone(privateDirs)
	if x := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(x) {
		dirs = append(dirs, x)
	}
	for _, d := range dirs {
		if d == "/tmp" && iso.ReadOnly {
			continue // the read-only filesystem's own private /tmp (tmpfsSize)
		}
		if iso.Root == "" {
			if _, err := os.Stat(d); err != nil {
				continue
			}
		}
		iso.addPath(&iso.Private, d)
	}
	for _, k := range iso.keptPaths(c) {
		if filepath.IsAbs(k) {
			iso.addPath(&iso.Keep, k)
		}
	}
	if iso.Root != "" {
		iso.Masked = append(iso.Masked, c.HiddenPaths...)
		return // the jail holds only what it holds: no host home in it
	}
	if home, err := os.UserHomeDir(); err == nil && filepath.IsAbs(home) {
		for _, s := range SecretLocations {
			iso.Masked = append(iso.Masked, filepath.Join(home, s))
		}
	}
	iso.Masked = append(iso.Masked, c.HiddenPaths...)
	iso.hideReads()
}

// hideReads sets HideRead from Masked where the children's writes are
// confined by Landlock (landlock: the default where the host has it). The
// read layer (stage/hideread_linux.go) leaves a file created after the
// launch directly in a directory above a hidden path unreadable to that
// launch; under the write layer no child can create one there (every
// directory it may write is kept whole, never split). Without it, Missing
// says that a hidden file the host replaces while a child runs is in that
// child's sight; and so it does, by name, for each hidden path the layer
// cannot cover: one at or beneath a directory the children keep whole (an
// allowed working directory — a server started in its user's home works
// there —, a writable path, a private directory).
func (iso *Isolation) hideReads() {
	if iso.Compose || iso.Root != "" || len(iso.Masked) == 0 {
		return
	}
	if !iso.Landlock {
		iso.Missing = append(iso.Missing, hideReadMissing+"needs Landlock's write confinement (landlock: true): without it a child may create files in the directories above a hidden path, which the read rules would leave unreadable to it")
		return
	}
	if _, err := hostfeat.LandlockABI(); err != nil {
		iso.Missing = append(iso.Missing, hideReadMissing+"needs Landlock: "+err.Error())
		return
	}
	iso.hideOn = true
	var uncovered []string
	for _, m := range iso.Masked {
		if !iso.addHideRead(m) {
			uncovered = append(uncovered, m)
		}
	}
	iso.reportUncovered(uncovered)
}

// hideReadMissing begins the read layer's missingGuarantees.
const hideReadMissing = "hidden files kept unreadable when the host replaces one while a child runs (a rename over ~/.git-credentials): "

// addHideRead adds the hidden path m to the read layer; false: the layer
// cannot cover it (it lies where the children keep every directory whole).
func (iso *Isolation) addHideRead(m string) bool {
	whole := append(append(append([]string{"/tmp"}, iso.Private...), iso.Dirs...), iso.WritablePaths...)
	covered := false
	for _, p := range resolvedHidden(m) {
		if beneathAnyDir(p, whole) {
			continue
		}
		covered = true
		if !slices.Contains(iso.HideRead, p) {
			iso.HideRead = append(iso.HideRead, p)
		}
	}
	return covered
}

// reportUncovered names in Missing the hidden paths that keep only their
// mask.
func (iso *Isolation) reportUncovered(paths []string) {
	if len(paths) == 0 {
		return
	}
	iso.Missing = append(iso.Missing, hideReadMissing+"not for "+strings.Join(paths, ", ")+
		": each lies in a directory the children keep whole (an allowed working directory, a writable path or a private directory), where the read rules would leave every file created after a launch unreadable to it; they keep only their mask (start the server, or allow working directories, elsewhere than above them)")
}

// Hide adds p to the hidden paths of a private view, and to the read
// layer's where it is on.
func (iso *Isolation) Hide(p string) {
	iso.Masked = append(iso.Masked, p)
	switch {
	case iso.hideOn:
		if !iso.addHideRead(p) {
			iso.reportUncovered([]string{p})
		}
	case len(iso.Masked) == 1: // the first: the layer is decided now
		iso.hideReads()
	}
}

// resolvedHidden is the hidden path p as written and as a child's path
// walk meets it now: its directory with every symbolic link followed (as
// far as it exists), and, when p itself is a link, its target too (which
// the mask covers). The path as written makes the directories above it
// split too, so that a link made or changed there later is seen at a
// launch (stage.expandHidden).
func resolvedHidden(p string) []string {
	p = filepath.Clean(p)
	out := []string{p}
	add := func(q string) {
		if !slices.Contains(out, q) {
			out = append(out, q)
		}
	}
	add(filepath.Join(resolvedDir(filepath.Dir(p)), filepath.Base(p)))
	if real, err := filepath.EvalSymlinks(p); err == nil {
		add(real)
	}
	return out
}

// resolvedDir is dir with every symbolic link followed, as far as it
// exists (the rest appended as it is).
func resolvedDir(dir string) string {
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		return real
	}
	parent := filepath.Dir(dir)
	if parent == dir {
		return dir
	}
	return filepath.Join(resolvedDir(parent), filepath.Base(dir))
}

// addPath appends the clean path p to list once; on the host (no jail) its
// real path, since the stage opens these refusing symbolic links (a path
// in a jail is not the host's to resolve).
func (iso *Isolation) addPath(list *[]string, p string) {
	p = filepath.Clean(p)
	if iso.Root == "" {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
	}
	if !slices.Contains(*list, p) {
		*list = append(*list, p)
	}
}

// keptPaths are what a launch needs from beneath the private directories:
// the working directories, the writable paths, the executables'
// directories, and the directories of host files that live beneath a
// private directory but that programs read through /etc (a
// systemd-resolved host's /etc/resolv.conf points into /run: without it,
// no name resolves in the child).
func (iso *Isolation) keptPaths(c *config.Config) []string {
	keep := slices.Clone(c.AllowedWorkingDirectories)
	keep = append(keep, iso.WritablePaths...)
	for _, e := range c.AllowedExecutables {
		if filepath.IsAbs(e) {
			keep = append(keep, literalDir(e))
		}
	}
	for _, e := range iso.ExecPaths {
		keep = append(keep, filepath.Dir(e))
	}
	for _, f := range hostFilesInRun {
		if real, err := filepath.EvalSymlinks(f); err == nil && real != f && iso.Root == "" {
			keep = append(keep, filepath.Dir(real))
		}
	}
	return keep
}

// literalDir is the directory of an allowlist path, up to its first glob
// character.
func literalDir(p string) string {
	if i := strings.IndexAny(p, "*?["); i >= 0 {
		p = p[:i]
		return filepath.Dir(p + "x")
	}
	return filepath.Dir(p)
}
