//go:build !linux

package config

import (
	"errors"
	"os"
	"runtime"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// otherHost reports every kernel layer unavailable.
type otherHost struct{}

func notLinux() error { return errors.New("this is " + runtime.GOOS + ", not Linux") }

func (otherHost) root() bool             { return false }
func (otherHost) uid() int               { return os.Geteuid() }
func (otherHost) gid() int               { return os.Getegid() }
func (otherHost) namespace(string) error { return notLinux() }
func (otherHost) mountSetattr() error    { return notLinux() }
func (otherHost) seccomp() error         { return notLinux() }
func (otherHost) landlock() (int, error) { return 0, notLinux() }
func (otherHost) mac() (string, error)   { return "", notLinux() }

// MACExec reports MAC unavailable.
func MACExec(profile string) (path, value string, err error) {
	return "", "", errcode.Fail(errcode.LayerUnavailable, layer.MAC, "set enableMAC to false", "enableMAC: this is %s, not Linux", runtime.GOOS)
}

var host hostProbe = otherHost{}
