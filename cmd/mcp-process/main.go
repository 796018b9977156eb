// Command mcp-process is an MCP server that lets AI agents start, watch,
// feed and stop processes under a security policy the kernel enforces.
//
// Subcommands: serve (default; MCP over stdio, or Streamable HTTP with
// --http), validate, check, run, audit verify, schema, init, doctor. Exit codes:
// 0 success, 1 denied / verification failed, 2 config or usage error; run
// exits with the child's code (126 when denied).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	// Time windows name IANA zones: the static binary must not depend on
	// the host's zoneinfo.
	_ "time/tzdata"

	// The init stage of every launch: when this binary is re-executed as
	// one, its init takes over (and execs the target) before main runs.
	_ "github.com/mcp-process/mcp-process/internal/sandbox/stage"

	// The server is non-dumpable from its first instructions (SPEC 7.1):
	// no child of the same uid can ptrace it or take its descriptors.
	_ "github.com/mcp-process/mcp-process/internal/selfprotect"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

const usage = `mcp-process: an MCP server that runs processes for AI agents under a kernel-enforced policy.

Usage:
  mcp-process [serve] [--config FILE] [--profile P] [--agent-id ID] [--http ADDR]
                      [--log-level debug|info|warn|error] [--log-format text|json]
  mcp-process validate [--config FILE] [--profile P]
  mcp-process check    [--config FILE] [--profile P] [--json] -- EXECUTABLE ARGS...
  mcp-process run      [--config FILE] [--profile P] [--cwd DIR] [--log-level L] [--log-format F] -- EXECUTABLE ARGS...
  mcp-process audit verify [--key KEYFILE] [--no-head] FILE
  mcp-process schema
  mcp-process init     [--profile P] [--output FILE]
  mcp-process doctor   [--config FILE] [--profile P] [--json]
  mcp-process version

Config sources, first found wins: --config FILE, $MCP_PROCESS_CONFIG_PATH,
$MCP_PROCESS_CONFIG (JSON text), ./mcp-process-config.json,
./config/mcp-process.json, else the built-in default (the development
profile, working directory = the current directory).
Profiles: maximum, development, cicd. Docs: docs/ in the source tree.
The server's own log goes to stderr (default: info, text; run: warn).
`

// exitError carries a process exit code out of a subcommand.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func exitf(code int, format string, a ...any) error {
	return &exitError{code: code, msg: fmt.Sprintf(format, a...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.ReadCloser, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || args[0] == "-h" || args[0] == "--help" || args[0] == "--version") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(args, stdin, stdout, stderr)
	case "validate":
		err = cmdValidate(args, stdout, stderr)
	case "check":
		err = cmdCheck(args, stdout)
	case "run":
		err = cmdRun(args, stdin, stdout, stderr)
	case "audit":
		err = cmdAudit(args, stdout)
	case "init":
		err = cmdInit(args, stdout)
	case "schema":
		_, err = stdout.Write(configSchema())
	case "doctor":
		err = cmdDoctor(args, stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "mcp-process", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		err = exitf(2, "unknown subcommand %q\n\n%s", cmd, usage)
	}
	if err == nil {
		return 0
	}
	var help helpText
	if errors.As(err, &help) {
		fmt.Fprint(stdout, string(help))
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.msg != "" {
			fmt.Fprintln(stderr, "mcp-process:", ee.msg)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "mcp-process:", err)
	return 1
}
