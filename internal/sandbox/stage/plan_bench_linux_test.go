//go:build linux && (amd64 || arm64)

package stage

import (
	"os"
	"testing"
)

// BenchmarkPlanLaunch is the zygote's planning of a launch of the default
// profile (the server user's 26 credential locations hidden, four private
// directories, three seals), on every launch's path between the zygote's
// receipt of the config and its clone3: "plain" without the hidden files'
// read rules, "hide" with them, made ahead between launches as the idle
// zygote does (prepareHidden, outside the timing).
func BenchmarkPlanLaunch(b *testing.B) {
	if e := zygoteInit(); e != 0 {
		b.Skip(e)
	}
	home, _ := os.UserHomeDir()
	var masked []string
	for _, s := range []string{".ssh", ".aws", ".azure", ".config/gcloud", ".kube", ".docker", ".gnupg", ".netrc",
		".git-credentials", ".npmrc", ".pypirc", ".config/gh", ".config/hub", ".password-store",
		".vault-token", ".cargo/credentials", ".cargo/credentials.toml", ".terraform.d/credentials.tfrc.json",
		".gem/credentials", ".m2/settings.xml", ".config/op",
		".mozilla", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware", ".config/microsoft-edge"} {
		masked = append(masked, home+"/"+s) // sandbox.SecretLocations (not importable here)
	}
	work := b.TempDir()
	for _, hide := range []bool{false, true} {
		c := &Config{Flags: FlagMountNS | FlagCaps | FlagIdentity | FlagScope | FlagPrivate | FlagLandlock,
			Dir: work, Argv: []string{"echo", "hi"}, Env: []string{"LANG=C.UTF-8", "PATH=/usr/bin:/bin", "HOME=/var/lib/x"},
			UID: 65534, GID: 65534, Private: []string{"/tmp", "/var/tmp", "/dev/shm", "/run"}, Masked: masked,
			Dirs: []string{work}, Sealed: []string{"/etc/hostname", "/etc/hosts", "/usr/bin/echo"}, Writable: []string{"/var/lib/x"}}
		if hide {
			c.Flags |= FlagHideReads
			c.HideRead = masked
		}
		var fds []int
		for i := 0; i < ZygoteFDs; i++ {
			f, _ := os.Open("/dev/null")
			defer f.Close()
			fds = append(fds, int(f.Fd()))
		}
		name := "plain"
		if hide {
			name = "hide"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				p, fb, err := planLaunch(c, fds)
				if fb || err != nil {
					b.Fatal(fb, err)
				}
				for _, fd := range p.closeAfter {
					sysClose(fd)
				}
				p.wipe()
				if hide {
					b.StopTimer()
					prepareHidden()
					b.StartTimer()
				}
			}
		})
	}
}
