package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/mcp-process/mcp-process/internal/audit"
	"github.com/mcp-process/mcp-process/internal/config"
	"github.com/mcp-process/mcp-process/internal/errcode"
	"github.com/mcp-process/mcp-process/internal/policy"
	"github.com/mcp-process/mcp-process/internal/supervisor"
)

// cmdValidate parses and checks a config and prints the effective policy.
func cmdValidate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate")
	var f commonFlags
	f.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	loaded, _, err := loadPolicy(f)
	if err != nil {
		return err
	}
	// warnings: what will not work as the author likely expects;
	// differences: where this server deliberately differs from the original
	// TypeScript server (docs/migrating.md), one line each.
	out := struct {
		Valid       bool              `json:"valid"`
		Source      string            `json:"source"`
		Warnings    []string          `json:"warnings"`
		Differences []string          `json:"differences"`
		Policy      *config.Config    `json:"policy"`
		Layers      map[string]string `json:"layers"`
	}{true, loaded.Source, append([]string{}, configWarnings(loaded.Config)...), differences(loaded), loaded.Config.Redacted(), layerStates(loaded.Config, nil)}
	if err := writeJSON(stdout, out); err != nil {
		return err
	}
	// The same lines for a human, one each (SPEC 7.3); the exit status stays 0.
	for _, w := range out.Warnings {
		fmt.Fprintln(stderr, "mcp-process: warning:", w)
	}
	for _, d := range out.Differences {
		fmt.Fprintln(stderr, "mcp-process: differs from the original server:", d)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// launchArgs splits "[flags] -- EXECUTABLE ARGS..." .
func launchArgs(name string, rest []string) (string, []string, error) {
	if len(rest) == 0 {
		return "", nil, exitf(2, "%s: missing EXECUTABLE (usage: mcp-process %s [flags] -- EXECUTABLE ARGS...)", name, name)
	}
	return rest[0], rest[1:], nil
}

// cmdCheck is the dry run: the decision for one launch; no process starts.
// Exit 0 allowed, 1 denied, 2 config/usage error.
func cmdCheck(args []string, stdout io.Writer) error {
	fs := newFlagSet("check")
	var f commonFlags
	f.register(fs)
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	cwd := fs.String("cwd", "", "working directory of the launch (default: the first allowed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	exe, argv, err := launchArgs("check", fs.Args())
	if err != nil {
		return err
	}
	_, pol, err := loadPolicy(f)
	if err != nil {
		return err
	}
	d := pol.Evaluate(policy.Request{Agent: "cli", Executable: exe, Args: argv, Cwd: *cwd}, timeNow())
	if *asJSON {
		out := map[string]any{"allow": d.Allow, "needsApproval": d.NeedsApproval}
		if d.Allow {
			out["spec"] = map[string]any{"path": d.Spec.Path, "argv": d.Spec.Argv, "dir": d.Spec.Dir, "limits": d.Spec.Limits, "lifetimeSeconds": d.Spec.Lifetime.Seconds(), "script": d.Spec.Script, "interpreter": d.Spec.Interpreter}
		} else {
			out["error"] = d.Err
		}
		if err := writeJSON(stdout, out); err != nil {
			return err
		}
	} else if d.Allow {
		fmt.Fprintf(stdout, "allowed: %s\n  runs: %s\n  argv: %q\n  cwd:  %s\n  lifetime: %s\n", exe, d.Spec.Path, d.Spec.Argv, d.Spec.Dir, d.Spec.Lifetime)
		if d.NeedsApproval {
			fmt.Fprintln(stdout, "  needs approval: a person confirms it first (requireConfirmation/requireConfirmationFor)")
		}
	} else {
		fmt.Fprintf(stdout, "denied: %s\n", describeErr(d.Err))
	}
	if !d.Allow {
		return &exitError{code: 1}
	}
	return nil
}

// cmdRun launches one process under the full policy, streams its output and
// exits with its exit code (128+signal when killed, 126 when denied).
func cmdRun(args []string, stdin io.ReadCloser, stdout, stderr io.Writer) error {
	fs := newFlagSet("run")
	var f commonFlags
	f.register(fs)
	cwd := fs.String("cwd", "", "working directory (default: the first allowed)")
	pty := fs.Bool("pty", false, "run on a pseudo-terminal of 80x24 (its output, one stream, goes to stdout)")
	var lf logFlags
	lf.register(fs, "warn")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	logger, err := lf.logger(stderr)
	if err != nil {
		return err
	}
	exe, argv, err := launchArgs("run", fs.Args())
	if err != nil {
		return err
	}
	loaded, pol, err := loadPolicy(f)
	if err != nil {
		return err
	}
	if err := prepareHomes(loaded.Config, pol); err != nil {
		return err
	}
	if err := watchConfigSources(loaded, pol, startDir(), logger); err != nil {
		return err
	}
	alog, err := openAudit(loaded, "cli")
	if err != nil {
		return err
	}
	defer alog.Close()
	const agent = "cli"
	d := pol.Evaluate(policy.Request{Agent: agent, Executable: exe, Args: argv, Cwd: *cwd}, timeNow())
	if !d.Allow {
		return refuse(alog, agent, exe, d.Err)
	}
	if d.NeedsApproval { // no MCP client to ask through: fail closed
		return refuse(alog, agent, exe, errcode.Deny(errcode.ConfirmationDenied, policy.LayerApproval,
			"launch it through `mcp-process serve`, whose MCP client asks a person, or take it out of requireConfirmation/requireConfirmationFor",
			"%s needs a person's approval, which `run` cannot ask for", exe))
	}
	cg, err := detectCgroups()
	if err != nil {
		return err
	}
	if err := holdTrees(loaded.Config, cg, logger); err != nil {
		cg.Close()
		return err
	}
	sup := newSupervisor(loaded.Config, pol, alog, cg, nil, nil)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		sup.Shutdown(ctx)
		cancel()
		cg.Close()
	}()
	st, err := sup.Start(agent, d.Spec, supervisor.StartOptions{Tool: "run", CaptureOutput: true, Stdin: supervisor.StdinPipe, PTY: *pty})
	if err != nil {
		if e := errcode.As(err); e.Code != errcode.Internal {
			return refuse(alog, agent, exe, e)
		}
		return exitf(1, "%s", describeErr(errcode.As(err)))
	}
	go forwardStdin(sup, agent, st.Pid, stdin, stdinCheck(loaded.Config, alog, agent, st.Pid, stderr))
	return follow(sup, agent, st.Pid, stdout, stderr)
}

// stdinCheck is run's check of each piece of stdin: the same rule as
// process_send_stdin (blockBinaryStdin included). Data that breaks it is
// not forwarded, the child's stdin is closed, and the refusal is recorded.
func stdinCheck(cfg *config.Config, alog *audit.Log, agent string, pid int, stderr io.Writer) func([]byte) *errcode.Error {
	return func(b []byte) *errcode.Error {
		e := policy.CheckStdin(cfg, b, policy.EncodingUTF8)
		if e != nil {
			rec := audit.Denial(agent, "run", e, false)
			rec.PID = pid
			if err := alog.Record(rec); err != nil {
				fmt.Fprintf(stderr, "mcp-process run: the audit log cannot be written (%v)\n", err)
			}
			fmt.Fprintf(stderr, "mcp-process run: stdin refused: %s\n", describeErr(e))
		}
		return e
	}
}

// follow copies the child's output to stdout and stderr until it exits
// (a SIGINT or SIGTERM to run terminates it) and returns run's exit: the
// child's code, or 128+signal.
func follow(sup *supervisor.Supervisor, agent string, pid int, stdout, stderr io.Writer) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	// A reader that goes away (run ... | head) must not kill run before it
	// has stopped the child: with SIGPIPE handled, writes fail with EPIPE.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)

	var next supervisor.StreamCounts
	for {
		final, werr := sup.Wait(context.Background(), agent, pid, 50*time.Millisecond)
		if werr != nil {
			return exitf(1, "%v", werr)
		}
		next = pump(sup, agent, pid, next, stdout, stderr)
		select {
		case <-sig:
			_, _ = sup.Terminate(agent, pid, false, 5*time.Second, "run")
		default:
		}
		if final.State == supervisor.StateExited {
			pump(sup, agent, pid, next, stdout, stderr)
			return exitOf(final)
		}
	}
}

// refuse records a refused launch (a policy denial as a security
// violation) and exits 126 with the reason; if the record cannot be
// written, it exits 1 saying so.
func refuse(alog *audit.Log, agent, exe string, e *errcode.Error) error {
	rec := audit.Denial(agent, "run", e, true)
	rec.Executable = exe
	if err := alog.Record(rec); err != nil {
		return exitf(1, "the audit log cannot be written (%v); refused: %s", err, describeErr(e))
	}
	return exitf(126, "denied: %s", describeErr(e))
}

// forwardStdin copies in to the child's stdin, each piece checked by check
// first; a refused piece closes the child's stdin. A UTF-8 character cut by
// a read waits for the rest (a read boundary is not binary data).
func forwardStdin(sup *supervisor.Supervisor, agent string, pid int, in io.Reader, check func([]byte) *errcode.Error) {
	buf := make([]byte, 32*1024)
	var held []byte // the start of a character cut by the previous read
	send := func(b []byte, closeStdin bool) bool {
		if len(b) > 0 && check(b) != nil {
			_, _ = sup.SendStdin(agent, pid, nil, true, "run")
			return false
		}
		if len(b) > 0 || closeStdin {
			if _, werr := sup.SendStdin(agent, pid, b, closeStdin, "run"); werr != nil {
				return false
			}
		}
		return !closeStdin
	}
	for {
		n, err := in.Read(buf)
		data := append(held, buf[:n]...)
		held = nil
		if err == nil {
			cut := incompleteTail(data)
			data, held = data[:len(data)-cut], append([]byte(nil), data[len(data)-cut:]...)
		}
		if !send(data, err != nil) {
			return
		}
	}
}

// incompleteTail is the length of a UTF-8 character at the end of b that
// is not complete yet (0 when none).
func incompleteTail(b []byte) int {
	for k := 1; k <= utf8.UTFMax-1 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if utf8.FullRune(b[len(b)-k:]) {
				return 0
			}
			return k
		}
	}
	return 0
}

// pump copies new output since next to the terminal, the bytes as the
// child wrote them, and returns the new offsets.
func pump(sup *supervisor.Supervisor, agent string, pid int, next supervisor.StreamCounts, stdout, stderr io.Writer) supervisor.StreamCounts {
	out, err := sup.Output(agent, pid, supervisor.OutputQuery{Offset: supervisor.StreamOffsets{Stdout: &next.Stdout, Stderr: &next.Stderr}})
	if err != nil {
		return next
	}
	if len(out.Stdout) > 0 {
		_, _ = stdout.Write(out.Stdout)
	}
	if len(out.Stderr) > 0 {
		_, _ = stderr.Write(out.Stderr)
	}
	return out.NextOffset
}

func exitOf(st *supervisor.Status) error {
	if st.ExitCode != nil {
		if *st.ExitCode == 0 {
			return nil
		}
		return &exitError{code: *st.ExitCode}
	}
	if n := signalNumber(st.Signal); n > 0 {
		return exitf(128+n, "terminated by %s (%s)", st.Signal, st.TerminationReason)
	}
	return exitf(1, "process ended: %s", st.TerminationReason)
}

// cmdAudit: "audit verify [--key KEYFILE] [--no-head] FILE" checks the
// hash chain, the head file and, with the key, the signed checkpoints
// (exit 1 names the first bad record, or TRUNCATED / REWRITTEN).
func cmdAudit(args []string, stdout io.Writer) error {
	const usage = "usage: mcp-process audit verify [--key KEYFILE] [--no-head] FILE"
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			return helpText("Usage: mcp-process audit verify [--key KEYFILE] [--no-head] FILE\n\n" +
				"Verifies the audit log's hash chain, its rotated files and its head file FILE.head (records cut from\n" +
				"the end are reported as TRUNCATED). With --key (the auditSigningKeyFile, or for Ed25519 its public key\n" +
				"in PEM), every signed checkpoint and the head's signature are checked too, so a chain rewritten from\n" +
				"scratch is reported as REWRITTEN. --no-head checks the chain alone (a log copied without its head).\n" +
				"Exit 0 valid, 1 not valid (the first problem is named), 2 usage or unreadable file.\n")
		}
	}
	if len(args) == 0 || args[0] != "verify" {
		return exitf(2, usage)
	}
	var opts audit.VerifyOptions
	var file string
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--no-head":
			opts.NoHead = true
		case a == "--key" && i+1 < len(args):
			i++
			k, err := audit.LoadVerifyKey(args[i])
			if err != nil {
				return exitf(2, "audit verify: --key: %v", err)
			}
			opts.Key = k
		case strings.HasPrefix(a, "--key="):
			k, err := audit.LoadVerifyKey(strings.TrimPrefix(a, "--key="))
			if err != nil {
				return exitf(2, "audit verify: --key: %v", err)
			}
			opts.Key = k
		case strings.HasPrefix(a, "-") || file != "":
			return exitf(2, usage)
		default:
			file = a
		}
	}
	if file == "" {
		return exitf(2, usage)
	}
	res, err := audit.VerifyLog(file, opts)
	if err != nil {
		var ve *audit.VerifyError
		if errors.As(err, &ve) {
			return exitf(1, "audit log NOT valid: %v", err)
		}
		return exitf(2, "audit verify: %v", err)
	}
	if res.Continuation {
		fmt.Fprintf(stdout, "chain starts at seq %d (older records were rotated away)\n", res.FirstSeq)
	}
	if res.TornBytes > 0 {
		fmt.Fprintf(stdout, "note: a partial last line (%d bytes) follows seq %d: a write cut by a crash before it was synced, "+
			"never acknowledged and not part of the chain (the head records seq %d); the server removes it at its next start\n",
			res.TornBytes, res.LastSeq, res.Head.Seq)
	}
	switch {
	case res.Head != nil:
		fmt.Fprintf(stdout, "head: seq %d (written %s) is in the chain: nothing was cut before it\n", res.Head.Seq, res.Head.Time)
	default:
		fmt.Fprintln(stdout, "head: not checked (--no-head): records cut from the end would not be detected")
	}
	switch {
	case opts.Key != nil:
		fmt.Fprintf(stdout, "signed checkpoints: %d valid (%s), the last at seq %d\n", res.Checkpoints, opts.Key.Alg(), res.LastCheckpoint)
	case res.Checkpoints > 0:
		fmt.Fprintf(stdout, "signed checkpoints: %d present, not checked (pass --key to detect a rewritten chain)\n", res.Checkpoints)
	}
	fmt.Fprintf(stdout, "audit log valid: %d records in %d file(s), seq %d..%d, last hash %s\n", res.Records, len(res.Files), res.FirstSeq, res.LastSeq, res.LastHash)
	return nil
}

func configSchema() []byte { return config.Schema() }
