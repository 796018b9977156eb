package supervisor

import (
	"log/slog"
	"time"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/sandbox"
	"github.com/mcp-process/mcp-process/internal/sandbox/cgroup"
)

// Options configure a Supervisor.
type Options struct {
	// Config is the policy; the supervisor only reads it.
	Config *config.Config
	// Audit receives the state-change records (launch, exit, terminate,
	// stdin, service, group). nil = records are not written anywhere.
	Audit audit.Recorder
	// Authorize runs the full policy for a launch the supervisor makes by
	// itself (service health checks) and returns the Spec or the denial.
	Authorize func(agent string, req policy.Request) (*policy.Spec, *errcode.Error)
	// Now is the clock for timestamps and rate windows; nil = time.Now.
	Now func() time.Time
	// OnOutput is called when new output arrives for pid on stream
	// ("stdout" or "stderr"). It is called from the reading goroutine and
	// must not block. May be nil.
	OnOutput func(pid int, stream string)
	// OnStateChange is called when agent's process pid starts running or
	// has exited (and been recorded). It must not block. May be nil.
	OnStateChange func(agent string, pid int, running bool)
	// Cgroups gives every launch its own cgroup (limits, tree kill,
	// accounting). nil: no cgroups; memory, pids and CPU% limits are then
	// reported as not enforced (refused with strictResourceEnforcement).
	Cgroups *cgroup.Manager
	// Isolation is what every child gets; nil = sandbox.IsolationFor(Config)
	// (the caller passes the one it built already: building it lists the
	// tree scope's files).
	Isolation *sandbox.Isolation
	// Logger receives what cannot be reported to a caller (an audit record
	// of an exit that could not be written); nil = slog.Default().
	Logger *slog.Logger
	// Egress serves the egress listeners of launches with a destination
	// list (allowedNetworkDestinations); nil: such launches fail
	// (LAYER_UNAVAILABLE).
	Egress EgressServer
}

// Stdin modes of StartOptions.Stdin.
const (
	StdinPipe = "pipe"
	StdinNull = "null"
)

// Kinds of a managed process.
const (
	KindProcess = "process"
	KindService = "service"
)

// States of a managed process.
const (
	StateRunning = "running"
	StateExited  = "exited"
)

// Termination reasons (SPEC 6, Processes).
const (
	ReasonExited         = "exited"
	ReasonTerminated     = "terminated"
	ReasonKilled         = "killed"
	ReasonTimeout        = "timeout"
	ReasonLifetime       = "lifetime"
	ReasonMemoryLimit    = "memory-limit"
	ReasonCPUTimeLimit   = "cpu-time-limit"
	ReasonServerShutdown = "server-shutdown"
)

// StartOptions are the launch options that are not part of the policy Spec.
type StartOptions struct {
	// Tool is the caller's label for the audit records of this process
	// (the front end's name for the request: an MCP tool, "run"); the
	// supervisor knows no wire protocol.
	Tool string
	// Name is a display name (process_list "name"); "" = basename of the executable.
	Name string
	// CaptureOutput keeps stdout/stderr in ring buffers; false (or
	// allowOutputCapture false) sends them to /dev/null.
	CaptureOutput bool
	// Stdin is StdinPipe ("" means the same) or StdinNull.
	Stdin string
	// PTY runs the child on a new pseudo-terminal, its controlling
	// terminal (SPEC 7.4): stdin, stdout and stderr are the terminal, its
	// output is the "stdout" stream (stderr stays empty), and Stdin must
	// be "" or StdinPipe.
	PTY bool
	// Cols and Rows are the terminal's size (0: DefaultCols, DefaultRows);
	// only with PTY.
	Cols, Rows int
}

// The default size of a pseudo-terminal, and the largest accepted.
const (
	DefaultCols     = 80
	DefaultRows     = 24
	MaxTerminalSide = 10000
)

// TerminalSize is a pseudo-terminal's size in characters.
type TerminalSize struct {
	Cols int `json:"cols"`
	Rows int `json:"rows"`
}

// SandboxReport says which layers a launch got and which requested limits
// are not enforced on this host/build.
type SandboxReport struct {
	Applied     []string `json:"applied"`
	NotEnforced []string `json:"notEnforced"`
}

// Status is a managed process as the tools report it (process_start,
// process_list, process_get_status, process_wait).
type Status struct {
	Pid     int      `json:"pid"`
	Name    string   `json:"name"`
	Command string   `json:"command"` // the resolved executable path
	Args    []string `json:"args"`    // argv[1:]
	State   string   `json:"state"`   // "running" | "exited"
	// StartTime is RFC 3339 with milliseconds.
	StartTime string `json:"startTime"`
	// EndTime is set once exited.
	EndTime string `json:"endTime,omitempty"`
	// Uptime is in seconds (fractional): until now while running, until
	// the exit once exited.
	Uptime            float64               `json:"uptime"`
	ExitCode          *int                  `json:"exitCode,omitempty"`
	Signal            string                `json:"signal,omitempty"` // e.g. "SIGKILL"
	TerminationReason string                `json:"terminationReason,omitempty"`
	Kind              string                `json:"kind"` // "process" | "service"
	GroupID           string                `json:"groupId,omitempty"`
	ServiceID         string                `json:"serviceId,omitempty"`
	Limits            config.ResourceLimits `json:"limits"`
	Sandbox           SandboxReport         `json:"sandbox"`
	// Pty is true for a process on a pseudo-terminal; Terminal is its
	// current size (nil otherwise).
	Pty      bool          `json:"pty,omitempty"`
	Terminal *TerminalSize `json:"terminal,omitempty"`
	// Stats is filled by Status (process_get_status), not by List.
	Stats *Stats `json:"stats,omitempty"`
}

// Defaults of process_run and process_get_output (SPEC 7.4).
const (
	// DefaultRunWait is process_run's default waitTimeout: below the
	// common 60 s request time-out of MCP clients.
	DefaultRunWait = 30 * time.Second
	// DefaultMaxResultBytes is process_run's default maxResultBytes (per stream).
	DefaultMaxResultBytes = 64 << 10
	// DefaultMaxOutputBytes is process_get_output's default maxBytes (per stream).
	DefaultMaxOutputBytes = 64 << 10
)

// RunOptions are process_run's options beyond the launch.
type RunOptions struct {
	// WaitTimeout bounds the wait for the exit (<= 0: DefaultRunWait).
	WaitTimeout time.Duration
	// MaxResultBytes caps each stream in the result (<= 0: DefaultMaxResultBytes).
	MaxResultBytes int
	// Progress, if set, receives the run's progress updates, called from
	// Run's goroutine: at most one per ProgressInterval, whole lines, a
	// heartbeat after HeartbeatInterval without output.
	Progress func(Progress)
}

// RunResult is what Run returns: the process's status and the tail of
// its output, as bytes (encoding them for a wire is the caller's).
type RunResult struct {
	Status
	// Stdout and Stderr are the tail of each stream, at most
	// RunOptions.MaxResultBytes each. A tail cut inside a UTF-8 sequence
	// starts after it (Offset says where), so that text stays text; the
	// bytes are otherwise as the process wrote them.
	Stdout, Stderr []byte
	// Truncated is true when stdout or stderr is not the whole output of
	// its stream: the rest is readable with Output from DroppedBytes up
	// to Offset.
	Truncated bool
	// StdoutBytes and StderrBytes are the bytes each stream wrote in total.
	StdoutBytes, StderrBytes int64
	// Offset is where the returned stdout and stderr start in their stream.
	Offset StreamCounts
	// NextOffset is the end of each stream (where a further read would start).
	NextOffset StreamCounts
	// DroppedBytes is, per stream, the bytes no longer retained by the
	// ring buffer (not readable any more).
	DroppedBytes StreamCounts
	DurationMs   int64
}

// StreamOffsets are optional per-stream absolute byte offsets.
type StreamOffsets struct {
	Stdout *int64 `json:"stdout,omitempty"`
	Stderr *int64 `json:"stderr,omitempty"`
}

// StreamCounts are per-stream byte counts or positions.
type StreamCounts struct {
	Stdout int64 `json:"stdout"`
	Stderr int64 `json:"stderr"`
}

// The streams of a process's output (OutputQuery.Stream, Options.OnOutput).
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// OutputQuery selects what Output returns.
type OutputQuery struct {
	Stream   string        // StreamStdout | StreamStderr | "" (both)
	Offset   StreamOffsets // absolute offset per stream; nil = oldest retained byte
	MaxBytes int           // per stream; 0 = no limit
	Tail     int           // > 0: the last Tail bytes (overrides Offset)
}

// OutputResult is what Output read: the bytes as the process wrote them
// (encoding them for a wire is the caller's) and where they are in their
// streams. A stream not asked for is empty and its positions are its end.
type OutputResult struct {
	Stdout, Stderr []byte
	// StdoutBytes and StderrBytes are the bytes each stream wrote in total.
	StdoutBytes, StderrBytes int64
	// Offset is where this read started in each stream.
	Offset StreamCounts
	// NextOffset is where the next read should start to get only new bytes.
	NextOffset StreamCounts
	// DroppedBytes is the total of each stream's bytes no longer retained.
	DroppedBytes StreamCounts
	// Pty is true when the process runs on a pseudo-terminal: stdout is
	// everything the terminal showed (the program's stdout and stderr
	// interleaved, with the terminal's echo and \r\n line ends), and
	// stderr is always empty.
	Pty bool
}

// Sample is one stats sample.
type Sample struct {
	Time        string  `json:"time"`
	CpuPercent  float64 `json:"cpuPercent"`
	MemoryMB    float64 `json:"memoryMB"`
	ThreadCount int     `json:"threadCount"`
	IoRead      int64   `json:"ioRead"`
	IoWrite     int64   `json:"ioWrite"`
}

// Stats are the resource figures of a whole process tree (read from /proc):
// CpuPercent is of one core over the last sampling interval (~1 s),
// MemoryMB the summed RSS, IoRead/IoWrite the summed rchar/wchar bytes.
type Stats struct {
	CpuPercent   float64  `json:"cpuPercent"`
	MemoryMB     float64  `json:"memoryMB"`
	ThreadCount  int      `json:"threadCount"`
	ProcessCount int      `json:"processCount"`
	IoRead       int64    `json:"ioRead"`
	IoWrite      int64    `json:"ioWrite"`
	History      []Sample `json:"history,omitzero"` // nil: not asked for; [] before the first sample
}

// TerminateResult is the result of process_terminate.
type TerminateResult struct {
	Pid               int    `json:"pid"`
	ExitCode          *int   `json:"exitCode,omitempty"`
	Signal            string `json:"signal,omitempty"`
	TerminationReason string `json:"terminationReason"`
	// AuditError: the process was terminated but its terminate record could
	// not be written (SPEC 7.2: killing is the safe direction).
	AuditError string `json:"auditError,omitempty"`
}

// HealthCheck is a service's health check: Command (argv; Command[0] is
// the executable as an agent would request it) is run every IntervalMs and
// is healthy when it exits 0 within TimeoutMs.
type HealthCheck struct {
	Command    []string `json:"command"`
	IntervalMs int64    `json:"interval"`
	TimeoutMs  int64    `json:"timeout"`
}

// RestartPolicy says whether and how often a service that exits is relaunched.
type RestartPolicy struct {
	Enabled    bool  `json:"enabled"`
	MaxRetries int   `json:"maxRetries"`
	BackoffMs  int64 `json:"backoffMs"`
}

// ServiceRequest is process_start_service after the policy allowed the launch.
type ServiceRequest struct {
	// Tool is the caller's label for the service's audit records and its
	// instances' (an MCP tool), as StartOptions.Tool.
	Tool          string
	Name          string
	Spec          *policy.Spec
	HealthCheck   *HealthCheck
	RestartPolicy RestartPolicy
	// Cwd and Env are used for the health check's policy request.
	Cwd string
	Env map[string]string
}

// Service states.
const (
	ServiceRunning    = "running"
	ServiceRestarting = "restarting"
	ServiceStopped    = "stopped"
	ServiceFailed     = "failed"
)

// Health values.
const (
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown"
)

// ExitInfo is how an instance of a service ended.
type ExitInfo struct {
	Pid               int    `json:"pid"`
	ExitCode          *int   `json:"exitCode,omitempty"`
	Signal            string `json:"signal,omitempty"`
	TerminationReason string `json:"terminationReason"`
	Time              string `json:"time"`
}

// ServiceStatus is the result of the service tools.
type ServiceStatus struct {
	ServiceID       string    `json:"serviceId"`
	Name            string    `json:"name"`
	State           string    `json:"state"` // running | restarting | stopped | failed
	Pid             int       `json:"pid"`   // current (or last) instance
	Restarts        int       `json:"restarts"`
	LastExit        *ExitInfo `json:"lastExit,omitempty"`
	Health          string    `json:"health"` // healthy | unhealthy | unknown
	LastHealthCheck string    `json:"lastHealthCheck,omitempty"`
	// Error says why a service is "failed" when a relaunch was refused.
	Error string `json:"error,omitempty"`
}
