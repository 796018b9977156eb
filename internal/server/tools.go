package server

import (
	"context"
	"path/filepath"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/layer"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// encodings are the values of the encoding arguments: "utf-8" (the
// original server's default, Node's name) is "utf8" (SPEC 7.3).
var encodings = []any{"utf8", "utf-8", "base64"}

func canonicalEncoding(e string) string {
	if e == "utf-8" {
		return "utf8"
	}
	return e
}

var (
	readOnly    = &mcp.ToolAnnotations{ReadOnlyHint: true, DestructiveHint: ptr(false), OpenWorldHint: ptr(false)}
	additive    = &mcp.ToolAnnotations{DestructiveHint: ptr(false), OpenWorldHint: ptr(true)}
	destructive = &mcp.ToolAnnotations{DestructiveHint: ptr(true), OpenWorldHint: ptr(false)}
)

func limitTweaks(path ...string) []schemaTweak {
	var ts []schemaTweak
	for _, f := range []string{"maxCpuPercent", "maxMemoryMB", "maxFileDescriptors", "maxCpuTime", "maxProcesses"} {
		ts = append(ts, at(minimum(0), append(append([]string{}, path...), f)...))
	}
	return ts
}

func launchTweaks() []schemaTweak {
	return append(append(limitTweaks("resourceLimits"),
		at(enum("pipe", "null"), "stdin"),
		at(minimum(0), "timeout"),
		func(s *jsonschema.Schema) { prop(s, "executable").MinLength = ptr(1) },
	), terminalTweaks()...)
}

func (s *Server) registerTools() {
	addTool(s, &mcp.Tool{Name: "process_start", Title: "Start a process", Description: "Start a process under the server's policy and return its pid at once. Output is kept in ring buffers (process_get_output). With pty, it runs on a pseudo-terminal of its own (cols x rows), driven with process_send_stdin.", Annotations: additive}, s.processStart, launchTweaks()...)
	addTool(s, &mcp.Tool{Name: "process_run", Title: "Run a process to completion", Description: "Start a process, wait for it to exit (at most waitTimeout ms, default 30 s, then the tree is terminated) and return its exit status and the tail of its output (at most maxResultBytes per stream; truncated and offsets say what process_get_output can read on). With a progress token, sends progress notifications carrying new output lines, and a heartbeat at least every few seconds.", Annotations: additive}, s.processRun,
		append(launchTweaks(), at(minimum(0), "waitTimeout"), at(defaultValue(supervisor.DefaultRunWait.Milliseconds()), "waitTimeout"),
			at(minimum(0), "maxResultBytes"), at(defaultValue(supervisor.DefaultMaxResultBytes), "maxResultBytes"))...)
	addTool(s, &mcp.Tool{Name: "process_terminate", Title: "Terminate a process", Description: "Terminate a managed process and its whole tree: SIGTERM, then SIGKILL after timeout ms (or SIGKILL at once with force).", Annotations: destructive}, s.processTerminate, at(minimum(0), "timeout"))
	addTool(s, &mcp.Tool{Name: "process_get_stats", Title: "Process resource usage", Description: "CPU, memory, threads and I/O of a managed process tree.", Annotations: readOnly}, s.processGetStats)
	addTool(s, &mcp.Tool{Name: "process_send_stdin", Title: "Write to a process's stdin", Description: "Write data to a managed process's stdin; closeStdin sends EOF. For a process on a pseudo-terminal (pty), cols and rows resize the terminal (with or without data) and closeStdin types Ctrl-D.", Annotations: additive}, s.processSendStdin, append(terminalTweaks(), at(enum(encodings...), "encoding"))...)
	addTool(s, &mcp.Tool{Name: "process_get_output", Title: "Read a process's output", Description: "Read captured stdout/stderr from an absolute offset (or the last tail bytes), at most maxBytes per stream (default 64 KiB); nextOffset is where to read on. Reports total and dropped bytes. For a process on a pseudo-terminal (pty: true in the result) stdout is everything the terminal showed and stderr stays empty.", Annotations: readOnly}, s.processGetOutput,
		at(enum("stdout", "stderr", "both"), "stream"), at(enum(encodings...), "encoding"), at(minimum(0), "offset"), at(minimum(0), "maxBytes"), at(defaultValue(supervisor.DefaultMaxOutputBytes), "maxBytes"), at(minimum(0), "tail"))
	addTool(s, &mcp.Tool{Name: "process_list", Title: "List processes", Description: "List this agent's managed processes.", Annotations: readOnly}, s.processList, at(enum("running", "exited"), "state"))
	addTool(s, &mcp.Tool{Name: "process_get_status", Title: "Process status", Description: "Status of a managed process: state, exit code, signal, termination reason, stats and limits in force.", Annotations: readOnly}, s.processGetStatus)
	addTool(s, &mcp.Tool{Name: "process_wait", Title: "Wait for a process to exit", Description: "Wait until a managed process exits (at most timeout ms) and return its status; state stays running if the wait timed out.", Annotations: readOnly}, s.processWait, at(minimum(0), "timeout"))
	addTool(s, &mcp.Tool{Name: "process_create_group", Title: "Create a process group", Description: "Create a process group; with pipeline, each member's stdout feeds the next member's stdin.", Annotations: additive}, s.processCreateGroup)
	addTool(s, &mcp.Tool{Name: "process_add_to_group", Title: "Add a process to a group", Description: "Add a managed process to a group.", Annotations: additive}, s.processAddToGroup)
	addTool(s, &mcp.Tool{Name: "process_terminate_group", Title: "Terminate a process group", Description: "Terminate every process of a group (whole trees).", Annotations: destructive}, s.processTerminateGroup)
	addTool(s, &mcp.Tool{Name: "process_start_service", Title: "Start a service", Description: "Start a long-running service with an optional health check and restart policy.", Annotations: additive}, s.processStartService,
		append(limitTweaks("resourceLimits"), func(s *jsonschema.Schema) { prop(s, "executable").MinLength = ptr(1) },
			func(s *jsonschema.Schema) { prop(s, "name").MinLength = ptr(1) }, at(commandLineSchema, "healthCheck", "command"))...)
	addTool(s, &mcp.Tool{Name: "process_stop_service", Title: "Stop a service", Description: "Stop a service (no restart) and terminate its tree.", Annotations: destructive}, s.processStopService)
	addTool(s, &mcp.Tool{Name: "process_get_service", Title: "Service status", Description: "State, pid, restarts, last exit and health of a service.", Annotations: readOnly}, s.processGetService)
	addTool(s, &mcp.Tool{Name: "process_get_policy", Title: "Security policy in force", Description: "The effective policy (secrets redacted) and which layers are enforced on this host.", Annotations: readOnly}, s.processGetPolicy)
}

func (in *launchInput) request(agent string) policy.Request {
	r := policy.Request{Agent: agent, Executable: in.Executable, Args: in.Args, Cwd: in.Cwd, Env: in.Env,
		Timeout: time.Duration(in.Timeout) * time.Millisecond}
	if in.ResourceLimits != nil {
		r.Limits = *in.ResourceLimits
	}
	return r
}

func (in *launchInput) startOptions(tool string) supervisor.StartOptions {
	capture := true
	if in.CaptureOutput != nil {
		capture = *in.CaptureOutput
	}
	name := in.Name
	if name == "" {
		name = filepath.Base(in.Executable)
	}
	return supervisor.StartOptions{Tool: tool, Name: name, CaptureOutput: capture, Stdin: in.Stdin, PTY: in.PTY, Cols: in.Cols, Rows: in.Rows}
}

func (s *Server) processStart(ctx context.Context, c *call, in launchInput) (startOutput, error) {
	c.launch = &in
	spec, err := s.admitLaunch(ctx, c, in.request(c.agent))
	if err != nil {
		return startOutput{}, err
	}
	st, serr := s.opts.Supervisor.Start(c.agent, spec, in.startOptions(c.tool))
	if serr != nil {
		return startOutput{}, serr
	}
	return startOutput{Pid: st.Pid, Name: st.Name, State: st.State, StartTime: st.StartTime, Sandbox: st.Sandbox, Pty: st.Pty, Terminal: st.Terminal}, nil
}

func (s *Server) processRun(ctx context.Context, c *call, in runInput) (*runResult, error) {
	c.launch = &in.launchInput
	spec, err := s.admitLaunch(ctx, c, in.request(c.agent))
	if err != nil {
		return nil, err
	}
	ro := supervisor.RunOptions{WaitTimeout: time.Duration(in.WaitTimeout) * time.Millisecond, MaxResultBytes: in.MaxResultBytes}
	if tok := c.req.Params.GetProgressToken(); tok != nil && c.req.Session != nil {
		ro.Progress = progressSender(ctx, c.req.Session, tok)
	}
	res, serr := s.opts.Supervisor.Run(ctx, c.agent, spec, in.startOptions(c.tool), ro)
	if serr != nil {
		return nil, serr
	}
	return newRunResult(res), nil
}

func (s *Server) processTerminate(ctx context.Context, c *call, in terminateInput) (*supervisor.TerminateResult, error) {
	c.pid = in.Pid
	timeout := time.Duration(in.Timeout) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	if err := s.confirmProcessTermination(ctx, c, in.Pid, in.Force, timeout); err != nil {
		return nil, err
	}
	return s.opts.Supervisor.Terminate(c.agent, in.Pid, in.Force, timeout, c.tool)
}

func (s *Server) processGetStats(ctx context.Context, c *call, in statsInput) (*statsOutput, error) {
	c.pid = in.Pid
	st, err := s.opts.Supervisor.Status(c.agent, in.Pid)
	if err != nil {
		return nil, err
	}
	figs := st.Stats
	if in.IncludeHistory {
		if figs, err = s.opts.Supervisor.Stats(c.agent, in.Pid, true); err != nil {
			return nil, err
		}
	}
	if err := s.recordRead(c); err != nil {
		return nil, err
	}
	return &statsOutput{Pid: st.Pid, State: st.State, Uptime: st.Uptime, Stats: *figs,
		Figures: statsFigures{CpuPercent: figs.CpuPercent, MemoryMB: figs.MemoryMB, ThreadCount: figs.ThreadCount, IoRead: figs.IoRead, IoWrite: figs.IoWrite}}, nil
}

func (s *Server) processSendStdin(ctx context.Context, c *call, in stdinInput) (stdinOutput, error) {
	c.pid = in.Pid
	if err := policy.CheckStdinAllowed(s.cfg); err != nil { // before the data is decoded
		return stdinOutput{}, err
	}
	in.Encoding = canonicalEncoding(in.Encoding)
	data, derr := policy.DecodeStdin(in.Data, in.Encoding)
	if derr != nil {
		return stdinOutput{}, derr
	}
	terminal := s.opts.Supervisor.IsTerminal(c.agent, in.Pid)
	if terminal {
		if err := policy.CheckTerminalInput(s.cfg, data); err != nil {
			return stdinOutput{}, err
		}
	} else if err := policy.CheckStdin(s.cfg, data, in.Encoding); err != nil {
		return stdinOutput{}, err
	}
	out := stdinOutput{Pid: in.Pid}
	resize := in.Cols != 0 || in.Rows != 0
	if resize {
		ts, err := s.opts.Supervisor.Resize(c.agent, in.Pid, in.Cols, in.Rows, c.tool)
		if err != nil {
			return stdinOutput{}, err
		}
		out.Terminal = ts
	}
	if resize && len(data) == 0 && !in.CloseStdin {
		return out, nil
	}
	n, err := s.opts.Supervisor.SendStdin(c.agent, in.Pid, data, in.CloseStdin, c.tool)
	if err != nil {
		return stdinOutput{}, err
	}
	out.BytesWritten, out.StdinClosed, out.EOFSent = n, in.CloseStdin && !terminal, in.CloseStdin && terminal
	return out, nil
}

func (s *Server) processGetOutput(ctx context.Context, c *call, in outputInput) (*outputResult, error) {
	c.pid = in.Pid
	if in.MaxBytes == 0 {
		in.MaxBytes = supervisor.DefaultMaxOutputBytes
	}
	q, enc, err := outputQuery(in)
	if err != nil {
		return nil, err
	}
	out, err := s.opts.Supervisor.Output(c.agent, in.Pid, q)
	if err != nil {
		return nil, err
	}
	if err := s.recordRead(c); err != nil {
		return nil, err
	}
	return newOutputResult(out, enc), nil
}

func (s *Server) processList(ctx context.Context, c *call, in listInput) (listOutput, error) {
	ps := s.opts.Supervisor.List(c.agent, in.State)
	if ps == nil {
		ps = []supervisor.Status{}
	}
	if err := s.recordRead(c); err != nil {
		return listOutput{}, err
	}
	return listOutput{Processes: ps}, nil
}

func (s *Server) processGetStatus(ctx context.Context, c *call, in pidInput) (*supervisor.Status, error) {
	c.pid = in.Pid
	st, err := s.opts.Supervisor.Status(c.agent, in.Pid)
	if err != nil {
		return nil, err
	}
	if err := s.recordRead(c); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Server) processWait(ctx context.Context, c *call, in waitInput) (*supervisor.Status, error) {
	c.pid = in.Pid
	timeout := time.Duration(in.Timeout) * time.Millisecond
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return s.opts.Supervisor.Wait(ctx, c.agent, in.Pid, timeout)
}

func (s *Server) processCreateGroup(ctx context.Context, c *call, in createGroupInput) (groupOutput, error) {
	id, err := s.opts.Supervisor.CreateGroup(c.agent, in.Name, in.Pipeline, c.tool)
	if err != nil {
		return groupOutput{}, err
	}
	return groupOutput{GroupID: id}, nil
}

func (s *Server) processAddToGroup(ctx context.Context, c *call, in addToGroupInput) (groupOutput, error) {
	c.pid = in.Pid
	if err := s.opts.Supervisor.AddToGroup(c.agent, in.GroupID, in.Pid, c.tool); err != nil {
		return groupOutput{}, err
	}
	//lint:ignore S1016 the input and output schemas are separate types on purpose: one may change alone
	return groupOutput{GroupID: in.GroupID, Pid: in.Pid}, nil
}

func (s *Server) processTerminateGroup(ctx context.Context, c *call, in terminateGroupInput) (terminateGroupOutput, error) {
	if err := s.confirmGroupTermination(ctx, c, in.GroupID, in.Force); err != nil {
		return terminateGroupOutput{}, err
	}
	pids, auditErr, err := s.opts.Supervisor.TerminateGroup(c.agent, in.GroupID, in.Force, c.tool)
	if err != nil {
		return terminateGroupOutput{}, err
	}
	if pids == nil {
		pids = []int{}
	}
	return terminateGroupOutput{GroupID: in.GroupID, TerminatedPids: pids, AuditError: auditErr}, nil
}

func (s *Server) processStartService(ctx context.Context, c *call, in serviceInput) (serviceStartOutput, error) {
	li := launchInput{Executable: in.Executable, Args: in.Args, Cwd: in.Cwd, Env: in.Env, ResourceLimits: in.ResourceLimits, Name: in.Name}
	c.launch = &li
	spec, err := s.admitLaunch(ctx, c, li.request(c.agent))
	if err != nil {
		return serviceStartOutput{}, err
	}
	req := supervisor.ServiceRequest{Tool: c.tool, Name: in.Name, Spec: spec, Cwd: in.Cwd, Env: in.Env}
	if hc := in.HealthCheck; hc != nil {
		req.HealthCheck = &supervisor.HealthCheck{Command: hc.Command, IntervalMs: hc.IntervalMs, TimeoutMs: hc.TimeoutMs}
	}
	if in.RestartPolicy != nil {
		req.RestartPolicy = *in.RestartPolicy
	}
	st, serr := s.opts.Supervisor.StartService(c.agent, req)
	if serr != nil {
		return serviceStartOutput{}, serr
	}
	return serviceStartOutput{ServiceID: st.ServiceID, Pid: st.Pid, State: st.State}, nil
}

func (s *Server) processStopService(ctx context.Context, c *call, in serviceIDInput) (*supervisor.ServiceStatus, error) {
	if err := s.confirmServiceStop(ctx, c, in.ServiceID); err != nil {
		return nil, err
	}
	return s.opts.Supervisor.StopService(c.agent, in.ServiceID)
}

func (s *Server) processGetService(ctx context.Context, c *call, in serviceIDInput) (*supervisor.ServiceStatus, error) {
	st, err := s.opts.Supervisor.GetService(c.agent, in.ServiceID)
	if err != nil {
		return nil, err
	}
	if err := s.recordRead(c); err != nil {
		return nil, err
	}
	return st, nil
}

func (s *Server) processGetPolicy(ctx context.Context, c *call, in noInput) (policyOutput, error) {
	if err := s.recordRead(c); err != nil {
		return policyOutput{}, err
	}
	return policyOutput{Source: s.opts.Source, Policy: s.cfg.Redacted(), Layers: s.opts.Layers}, nil
}

// recordRead writes a debug-level record of a read (SPEC 6: debug = also
// reads). The level filter drops it unless auditLogLevel is debug.
func (s *Server) recordRead(c *call) error {
	if err := s.record(audit.Record{Level: audit.LevelDebug, Event: audit.EventRead, Agent: c.agent, Tool: c.tool, PID: c.pid}); err != nil {
		return errcode.Fail(errcode.Internal, layer.Audit, "check that the audit log is writable", "audit record could not be written: %v", err)
	}
	return nil
}
