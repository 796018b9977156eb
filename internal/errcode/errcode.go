// Package errcode defines the stable error codes of SPEC section 5 and the
// Error value every layer returns when it refuses or fails a request.
//
// Guarantees: a Code is one of the constants below and never changes meaning;
// an *Error always carries a Code, the layer that decided (a name of
// package layer's registry), a message that says
// what happened and a remedy that says what to change. It never carries secret
// values (environment values, matched blocked patterns).
package errcode

import (
	"errors"
	"fmt"

	"github.com/mcp-process/mcp-process/internal/layer"
)

// Code is a stable, machine-readable error code (SPEC section 5).
type Code string

// The stable codes of SPEC section 5.
const (
	ExecutableNotAllowed        Code = "EXECUTABLE_NOT_ALLOWED"
	ExecutableBlocked           Code = "EXECUTABLE_BLOCKED"
	ShellBlocked                Code = "SHELL_BLOCKED"
	SetuidBlocked               Code = "SETUID_BLOCKED"
	ArgumentInvalid             Code = "ARGUMENT_INVALID"
	EnvInvalid                  Code = "ENV_INVALID"
	CwdNotAllowed               Code = "CWD_NOT_ALLOWED"
	ResourceLimitExceedsMaximum Code = "RESOURCE_LIMIT_EXCEEDS_MAXIMUM"
	LayerUnavailable            Code = "LAYER_UNAVAILABLE"
	ConcurrencyLimit            Code = "CONCURRENCY_LIMIT"
	TotalLimit                  Code = "TOTAL_LIMIT"
	RateLimited                 Code = "RATE_LIMITED"
	OutsideTimeWindow           Code = "OUTSIDE_TIME_WINDOW"
	ConfirmationDenied          Code = "CONFIRMATION_DENIED"
	TerminationNotAllowed       Code = "TERMINATION_NOT_ALLOWED"
	ProcessNotFound             Code = "PROCESS_NOT_FOUND"
	StdinNotAllowed             Code = "STDIN_NOT_ALLOWED"
	BinaryStdinBlocked          Code = "BINARY_STDIN_BLOCKED"
	OutputCaptureDisabled       Code = "OUTPUT_CAPTURE_DISABLED"
	InvalidInput                Code = "INVALID_INPUT"
	ExecutableNotFound          Code = "EXECUTABLE_NOT_FOUND"
	CwdNotFound                 Code = "CWD_NOT_FOUND"
	Internal                    Code = "INTERNAL"
)

// All lists every code, in SPEC order.
var All = []Code{
	ExecutableNotAllowed, ExecutableBlocked, ShellBlocked, SetuidBlocked, ArgumentInvalid,
	EnvInvalid, CwdNotAllowed, ResourceLimitExceedsMaximum, LayerUnavailable,
	ConcurrencyLimit, TotalLimit, RateLimited, OutsideTimeWindow, ConfirmationDenied,
	TerminationNotAllowed, ProcessNotFound, StdinNotAllowed, BinaryStdinBlocked,
	OutputCaptureDisabled, InvalidInput, ExecutableNotFound, CwdNotFound, Internal,
}

// Error is a refusal or failure with its stable code. It is the "error" object
// of a failed tool call: {"code","layer","message","remedy"}.
type Error struct {
	Code Code `json:"code"`
	// Layer is a registered name (package layer): the layer that decided,
	// or the origin of a failure no layer decided.
	Layer   string `json:"layer"`
	Message string `json:"message"`
	Remedy  string `json:"remedy,omitempty"`
	// Violation is true when the refusal is a policy denial (a
	// security_violation audit record), false for plain failures such as
	// PROCESS_NOT_FOUND of an exited-and-forgotten pid or INTERNAL.
	Violation bool `json:"-"`
	// RetryAfterSeconds is set for RATE_LIMITED: when the agent may try again.
	RetryAfterSeconds int `json:"retryAfterSeconds,omitempty"`
	// Cause is the error this one reports, if any (errors.Is and errors.As
	// see it through Unwrap). It is never sent: Message says what happened.
	Cause error `json:"-"`
}

// Unwrap returns the cause (nil when none).
func (e *Error) Unwrap() error { return e.Cause }

// WithCause sets e's cause and returns e.
func (e *Error) WithCause(err error) *Error {
	e.Cause = err
	return e
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s (%s): %s", e.Code, e.Layer, e.Message)
	if e.Remedy != "" {
		s += "; remedy: " + e.Remedy
	}
	return s
}

// Deny builds a policy denial (a security violation).
func Deny(code Code, l layer.Layer, remedy, format string, a ...any) *Error {
	return &Error{Code: code, Layer: string(l), Message: fmt.Sprintf(format, a...), Remedy: remedy, Violation: true}
}

// Fail builds a failure that is not a policy violation (not found, bad input, internal).
func Fail(code Code, l layer.Layer, remedy, format string, a ...any) *Error {
	return &Error{Code: code, Layer: string(l), Message: fmt.Sprintf(format, a...), Remedy: remedy}
}

// As returns err as an *Error; any other error becomes INTERNAL.
func As(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Layer: string(layer.Server), Message: err.Error(), Cause: err}
}
