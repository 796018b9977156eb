package server

import (
	stdjson "encoding/json"
	"errors"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// Tool inputs. JSON names are the original server's; additions are marked.

type launchInput struct {
	Executable     string                 `json:"executable" jsonschema:"executable name (looked up in the server's search path) or absolute path"`
	Args           []string               `json:"args,omitempty" jsonschema:"arguments, passed to execve as they are (no shell)"`
	Cwd            string                 `json:"cwd,omitempty" jsonschema:"absolute working directory; default: the first allowed working directory"`
	Env            map[string]string      `json:"env,omitempty" jsonschema:"environment variables to set on top of the built minimal environment"`
	Timeout        int64                  `json:"timeout,omitempty" jsonschema:"milliseconds; may only shorten maxProcessLifetime"`
	CaptureOutput  *bool                  `json:"captureOutput,omitempty" jsonschema:"keep stdout/stderr readable (default true)"`
	ResourceLimits *config.ResourceLimits `json:"resourceLimits,omitempty" jsonschema:"limits for this launch; omitted fields come from defaultResourceLimits"`
	Stdin          string                 `json:"stdin,omitempty" jsonschema:"pipe (default): writable with process_send_stdin; null: /dev/null"`
	PTY            bool                   `json:"pty,omitempty" jsonschema:"run on a new pseudo-terminal, its controlling terminal: stdin, stdout and stderr are the terminal; its output is the stdout stream (stderr stays empty)"`
	Cols           int                    `json:"cols,omitempty" jsonschema:"terminal width in characters (default 80); only with pty"`
	Rows           int                    `json:"rows,omitempty" jsonschema:"terminal height in lines (default 24); only with pty"`
	Name           string                 `json:"name,omitempty" jsonschema:"display name"`
}

type runInput struct {
	launchInput
	WaitTimeout    int64 `json:"waitTimeout,omitempty" jsonschema:"milliseconds to wait for exit before the tree is terminated (reason timeout); default 30000, below the common 60 s client time-out: use process_start and process_wait for longer runs"`
	MaxResultBytes int   `json:"maxResultBytes,omitempty" jsonschema:"at most this many bytes of each stream in the result, its tail (default 65536); the rest stays readable with process_get_output"`
}

type pidInput struct {
	Pid int `json:"pid" jsonschema:"process id returned by process_start"`
}

type terminateInput struct {
	Pid     int   `json:"pid"`
	Force   bool  `json:"force,omitempty" jsonschema:"SIGKILL at once instead of SIGTERM then SIGKILL"`
	Timeout int64 `json:"timeout,omitempty" jsonschema:"milliseconds between SIGTERM and SIGKILL (default 5000)"`
}

type statsInput struct {
	Pid            int  `json:"pid"`
	IncludeHistory bool `json:"includeHistory,omitempty"`
}

type stdinInput struct {
	Pid        int    `json:"pid"`
	Data       string `json:"data,omitempty" jsonschema:"what to write (may be empty, e.g. for a resize alone)"`
	Encoding   string `json:"encoding,omitempty" jsonschema:"utf8 (default; utf-8 is the same) or base64"`
	CloseStdin bool   `json:"closeStdin,omitempty" jsonschema:"close stdin after writing (EOF); on a pseudo-terminal, type its end-of-file character (Ctrl-D) instead: the terminal stays open"`
	Cols       int    `json:"cols,omitempty" jsonschema:"resize the process's pseudo-terminal to this width first (the program gets SIGWINCH)"`
	Rows       int    `json:"rows,omitempty" jsonschema:"resize the process's pseudo-terminal to this height first"`
}

type outputInput struct {
	Pid      int    `json:"pid"`
	Stream   string `json:"stream,omitempty" jsonschema:"stdout, stderr or both (default)"`
	Encoding string `json:"encoding,omitempty" jsonschema:"utf8 (default; utf-8 is the same) or base64"`
	Offset   *int64 `json:"offset,omitempty" jsonschema:"absolute byte offset in each requested stream (0 = first byte ever written)"`
	MaxBytes int    `json:"maxBytes,omitempty" jsonschema:"at most this many bytes per stream (default 65536); read on from nextOffset"`
	Tail     int    `json:"tail,omitempty" jsonschema:"only the last N bytes of each stream"`
}

type listInput struct {
	State string `json:"state,omitempty" jsonschema:"running or exited; default all"`
}

type waitInput struct {
	Pid     int   `json:"pid"`
	Timeout int64 `json:"timeout,omitempty" jsonschema:"milliseconds to wait (default 30000)"`
}

type createGroupInput struct {
	Name     string `json:"name"`
	Pipeline bool   `json:"pipeline,omitempty" jsonschema:"connect each member's stdout to the next member's stdin"`
}

type addToGroupInput struct {
	GroupID string `json:"groupId"`
	Pid     int    `json:"pid"`
}

type terminateGroupInput struct {
	GroupID string `json:"groupId"`
	Force   bool   `json:"force,omitempty"`
}

type serviceInput struct {
	Name           string                    `json:"name"`
	Executable     string                    `json:"executable"`
	Args           []string                  `json:"args,omitempty"`
	Cwd            string                    `json:"cwd,omitempty"`
	Env            map[string]string         `json:"env,omitempty"`
	ResourceLimits *config.ResourceLimits    `json:"resourceLimits,omitempty"`
	HealthCheck    *healthCheckInput         `json:"healthCheck,omitempty" jsonschema:"command run every interval ms, healthy when it exits 0 within timeout ms"`
	RestartPolicy  *supervisor.RestartPolicy `json:"restartPolicy,omitempty" jsonschema:"relaunch on exit, at most maxRetries times, backoffMs apart"`
}

type serviceIDInput struct {
	ServiceID string `json:"serviceId" jsonschema:"the service's name"`
}

// healthCheckInput is a service's health check as agents send it: the
// command as an argv array or, as the original server took it, a command
// line, split on spaces and never given to a shell (SPEC 7.3).
type healthCheckInput struct {
	Command    commandLine `json:"command" jsonschema:"argv array, or a command line split on spaces (no shell: quotes, pipes and variables are not interpreted)"`
	IntervalMs int64       `json:"interval" jsonschema:"milliseconds between checks: at least 1000 (default 10000)"`
	TimeoutMs  int64       `json:"timeout" jsonschema:"milliseconds a check may take before it is killed: at most the interval (default 5000, or the interval if shorter)"`
}

// commandLine is an argv array, or a string split on spaces.
type commandLine []string

func (c *commandLine) UnmarshalJSON(b []byte) error {
	var line string
	if err := stdjson.Unmarshal(b, &line); err == nil {
		*c = strings.Fields(line)
		return nil
	}
	var argv []string
	if err := stdjson.Unmarshal(b, &argv); err != nil {
		return errors.New("healthCheck.command must be a string or an array of strings")
	}
	*c = argv
	return nil
}

// commandLineSchema lets healthCheck.command be a string or an argv array.
func commandLineSchema(s *jsonschema.Schema) {
	*s = jsonschema.Schema{Description: s.Description, OneOf: []*jsonschema.Schema{
		{Type: "string", MinLength: ptr(1)},
		{Type: "array", Items: &jsonschema.Schema{Type: "string"}, MinItems: ptr(1)},
	}}
}

type noInput struct{}

// Tool outputs that are not supervisor types.

type startOutput struct {
	Pid       int                      `json:"pid"`
	Name      string                   `json:"name"`
	State     string                   `json:"state"`
	StartTime string                   `json:"startTime"`
	Sandbox   supervisor.SandboxReport `json:"sandbox"`
	// Pty and Terminal: on a pseudo-terminal, and its size.
	Pty      bool                     `json:"pty,omitempty"`
	Terminal *supervisor.TerminalSize `json:"terminal,omitempty"`
}

type stdinOutput struct {
	Pid          int  `json:"pid"`
	BytesWritten int  `json:"bytesWritten"`
	StdinClosed  bool `json:"stdinClosed"`
	// EOFSent: closeStdin on a pseudo-terminal typed its end-of-file
	// character; the terminal stays open (StdinClosed is false).
	EOFSent bool `json:"eofSent,omitempty"`
	// Terminal is the pseudo-terminal's size after a resize.
	Terminal *supervisor.TerminalSize `json:"terminal,omitempty"`
}

type listOutput struct {
	Processes []supervisor.Status `json:"processes"`
}

type groupOutput struct {
	GroupID string `json:"groupId"`
	Pid     int    `json:"pid,omitempty"`
}

type terminateGroupOutput struct {
	GroupID        string `json:"groupId"`
	TerminatedPids []int  `json:"terminatedPids"`
	AuditError     string `json:"auditError,omitempty"` // terminated, but not recorded (SPEC 7.2)
}

type serviceStartOutput struct {
	ServiceID string `json:"serviceId"`
	Pid       int    `json:"pid"`
	State     string `json:"state"`
}

// statsOutput is process_get_stats: our flat figures, and the original
// server's shape beside them (SPEC 7.3): pid, state, uptime and the
// figures nested in stats{}.
type statsOutput struct {
	Pid    int     `json:"pid"`
	State  string  `json:"state"`
	Uptime float64 `json:"uptime" jsonschema:"seconds since the start (until the exit once exited)"`
	supervisor.Stats
	Figures statsFigures `json:"stats" jsonschema:"the figures above, nested as the original server returned them"`
}

type statsFigures struct {
	CpuPercent  float64 `json:"cpuPercent"`
	MemoryMB    float64 `json:"memoryMB"`
	ThreadCount int     `json:"threadCount"`
	IoRead      int64   `json:"ioRead"`
	IoWrite     int64   `json:"ioWrite"`
}

type policyOutput struct {
	Source string            `json:"source"`
	Policy *config.Config    `json:"policy"`
	Layers map[string]string `json:"layers"`
}

func ptr[T any](v T) *T { return &v }
