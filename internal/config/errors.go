package config

import (
	"fmt"

	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
)

// Error is a configuration that cannot be used: it does not parse, sets an
// unknown, duplicate or mistyped key, has a bad value, contradicts itself, or
// asks for a layer this build cannot enforce. The server refuses to start on
// it (exit code 2).
type Error struct {
	// Key names the offending key as a path: "enableChroot",
	// "defaultResourceLimits.maxMemoryMB", "agents[1].tokenSha256". It is ""
	// when the problem is the document as a whole (syntax, empty input).
	Key string
	// Message says what is wrong; Remedy says what to change.
	Message string
	Remedy  string
	// Code is errcode.InvalidInput for a bad document, value or
	// contradiction, errcode.LayerUnavailable for a layer not built.
	Code errcode.Code
	// Layer is the enforcement layer concerned ("config" unless the error is
	// LAYER_UNAVAILABLE, then e.g. "chroot").
	Layer string
	// Source is where the configuration came from (set by Load).
	Source string
}

func (e *Error) Error() string {
	s := "config"
	if e.Source != "" {
		s += " from " + e.Source
	}
	if e.Key != "" {
		s += fmt.Sprintf(": key %q", e.Key)
	}
	s += ": " + e.Message
	if e.Remedy != "" {
		s += "; remedy: " + e.Remedy
	}
	return s + " [" + string(e.Code) + "]"
}

// Errcode returns the error as the stable *errcode.Error a tool call or the
// CLI reports.
func (e *Error) Errcode() *errcode.Error {
	msg := e.Message
	if e.Key != "" {
		msg = fmt.Sprintf("config key %q: %s", e.Key, e.Message)
	}
	if e.Source != "" {
		msg += " (config from " + e.Source + ")"
	}
	return &errcode.Error{Code: e.Code, Layer: e.layer(), Message: msg, Remedy: e.Remedy}
}

func (e *Error) layer() string {
	if e.Layer == "" {
		return layer.Config.String()
	}
	return e.Layer
}

func invalid(key, remedy, format string, a ...any) *Error {
	return &Error{Key: key, Message: fmt.Sprintf(format, a...), Remedy: remedy, Code: errcode.InvalidInput, Layer: layer.Config.String()}
}
