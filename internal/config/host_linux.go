//go:build linux

package config

import (
	"errors"
	"os"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/hostfeat"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// linuxHost asks the running kernel, through hostfeat (the one set of
// probes, which doctor prints), for the isolation layers.
type linuxHost struct{}

func (linuxHost) root() bool                  { return hostfeat.Root() }
func (linuxHost) uid() int                    { return os.Geteuid() }
func (linuxHost) gid() int                    { return os.Getegid() }
func (linuxHost) namespace(name string) error { return hostfeat.Namespace(name) }
func (linuxHost) mountSetattr() error         { return hostfeat.MountSetattr() }
func (linuxHost) landlock() (int, error)      { return hostfeat.LandlockABI() }
func (linuxHost) seccomp() error              { _, err := hostfeat.Seccomp(); return err }

func (linuxHost) mac() (string, error) {
	kind, _ := hostfeat.MAC()
	if kind == "" {
		return "", errors.New("neither AppArmor nor SELinux is active on this host")
	}
	return kind, nil
}

// MACExec returns where and what the init stage writes so that the exec
// runs under profile: for AppArmor "exec PROFILE" to its exec attribute,
// for SELinux the context itself. With neither active: LAYER_UNAVAILABLE.
func MACExec(profile string) (path, value string, err error) {
	kind, attr := hostfeat.MAC()
	return macExec(kind, attr, profile)
}

func macExec(kind, attr, profile string) (path, value string, err error) {
	switch kind {
	case "apparmor":
		return attr, "exec " + profile, nil
	case "selinux":
		return attr, profile, nil
	}
	return "", "", errcode.Fail(errcode.LayerUnavailable, layer.MAC, "set enableMAC to false, or run the server on a host with AppArmor or SELinux active",
		"enableMAC: neither AppArmor nor SELinux is active on this host")
}

var host hostProbe = linuxHost{}
