#!/usr/bin/env bash
# bench/compare: mcp-process against a Node MCP peer that runs commands with no
# policy, no sandbox and no audit (@agent-infra/mcp-server-commands, pinned in
# package.json, installed with --ignore-scripts into bench/compare/node_modules),
# driven by the same TypeScript SDK client over stdio, in interleaved rounds
# with a fresh server per round. Prints a table of ratios from that one run
# (docs/performance.md). Targets are read from the table, never asserted.
# Usage: [BASELINE=old-binary] bench/compare/run.sh [--short] [ROUNDS [CALLS]]   (default 5 x 200;
#        --short: 1 x 20, what CI runs so the benchmark cannot rot)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds=5 calls=200 warmup=20 conc='[1,4]'
if [ "${1:-}" = "--short" ]; then rounds=1 calls=20 warmup=3; shift; fi
rounds="${1:-$rounds}"; calls="${2:-$calls}"
command -v node >/dev/null || { echo "bench/compare needs node (Debian: apt-get install nodejs npm)" >&2; exit 2; }
npm ci --prefix "$here" --ignore-scripts --no-audit --no-fund --silent
# Not under /tmp: children get a private /tmp of their own.
work="$(mktemp -d "$here/work.XXXXXX")"; trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
(cd "$root" && CGO_ENABLED=0 go build -o "$work/mcp-process" ./cmd/mcp-process)
mkdir -p "$work/cwd" "$work/state" "$work/full-tmp"; chmod 777 "$work/cwd"
# Full isolation: every namespace, seccomp strict, Landlock, a read-only
# filesystem with its own /tmp, cgroup limits (as root: a non-root run gets
# what its host allows and the row says so in the launch reports).
cat > "$work/full.json" <<JSON
{"allowedExecutables": ["/usr/bin/echo", "/bin/echo"], "allowedWorkingDirectories": ["$work/cwd"],
 "maxLaunchesPerMinute": 100000, "maxLaunchesPerHour": 1000000, "maxConcurrentProcessesPerAgent": 16, "maxConcurrentProcesses": 16,
 "auditLogPath": "$work/state/full-audit.log",
 "enableNamespaces": true, "namespaces": {"pid": true, "network": true, "mount": true, "uts": true, "ipc": true, "user": false},
 "seccompProfile": "strict", "landlock": true, "readOnlyFilesystem": true,
 "defaultResourceLimits": {"maxMemoryMB": 256, "maxProcesses": 16, "maxCpuPercent": 100}}
JSON
cat > "$work/default.json" <<JSON
{"allowedExecutables": ["/usr/bin/echo", "/bin/echo"], "allowedWorkingDirectories": ["$work/cwd"],
 "maxLaunchesPerMinute": 100000, "maxLaunchesPerHour": 1000000, "maxConcurrentProcessesPerAgent": 16, "maxConcurrentProcesses": 16,
 "auditLogPath": "$work/state/default-audit.log"}
JSON
peer="$here/node_modules/@agent-infra/mcp-server-commands/dist/index.cjs"
# BASELINE=/path/to/an/older/mcp-process adds that binary with the default
# and the full isolation profiles as more targets of the same interleaved run (before/after
# figures of a change: build main's binary, then run this on the branch).
baseline=""
if [ -n "${BASELINE:-}" ]; then
	cp "$BASELINE" "$work/mcp-process-baseline"
	# Its own logs and state: an older build need not read the heads and
	# records this build writes (the violation log sits beside the audit log).
	mkdir -p "$work/state-baseline"
	sed "s#$work/state/#$work/state-baseline/#" "$work/default.json" > "$work/baseline.json"
	sed "s#$work/state/#$work/state-baseline/#" "$work/full.json" > "$work/baseline-full.json"
	baseline=$(cat <<JSON
  {"name": "baseline binary, process_run echo hi, default profile, audit on",
   "command": "$work/mcp-process-baseline", "args": ["serve", "--config", "$work/baseline.json"], "cwd": "$work/cwd",
   "env": {"XDG_STATE_HOME": "$work/state-baseline"}, "tool": "process_run", "arguments": {"executable": "echo", "args": ["hi"]}},
  {"name": "baseline binary, full isolation", "concurrency": [1],
   "command": "$work/mcp-process-baseline", "args": ["serve", "--config", "$work/baseline-full.json"], "cwd": "$work/cwd",
   "env": {"XDG_STATE_HOME": "$work/state-baseline"}, "tool": "process_run", "arguments": {"executable": "echo", "args": ["hi"]}},
JSON
)
fi
# The default profile with its audit log on a tmpfs, when /dev/shm is one:
# the same records, chain and head, but no disk flush. Its distance to the
# default row is what the two durable records of a call (launch, exit:
# SPEC 7.2's durability) cost on this disk, in the same run.
tmpfs_row=""
if [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = "tmpfs" ]; then
	shm="$(mktemp -d /dev/shm/mcp-process-bench.XXXXXX)"; trap 'rm -rf "$work" "$shm"' EXIT
	sed "s#$work/state/default-audit.log#$shm/audit.log#" "$work/default.json" > "$work/tmpfs-audit.json"
	tmpfs_row=$(cat <<JSON
,
  {"name": "mcp-process, default profile, audit log on tmpfs (no disk flush)", "concurrency": [1],
   "command": "$work/mcp-process", "args": ["serve", "--config", "$work/tmpfs-audit.json"], "cwd": "$work/cwd",
   "env": {"XDG_STATE_HOME": "$work/state"}, "tool": "process_run", "arguments": {"executable": "echo", "args": ["hi"]}}
JSON
)
fi
plan=$(cat <<JSON
{"rounds": $rounds, "calls": $calls, "warmup": $warmup, "concurrency": $conc,
 "targets": [
  {"name": "peer @agent-infra/mcp-server-commands 1.2.18, run_command echo hi", "peer": true,
   "command": "node", "args": ["$peer"], "cwd": "$work/cwd", "tool": "run_command", "arguments": {"command": "echo hi"}},
$baseline
  {"name": "mcp-process, process_run echo hi, default profile, audit on",
   "command": "$work/mcp-process", "args": ["serve", "--config", "$work/default.json"], "cwd": "$work/cwd",
   "env": {"XDG_STATE_HOME": "$work/state"}, "tool": "process_run", "arguments": {"executable": "echo", "args": ["hi"]}},
  {"name": "mcp-process, full isolation", "concurrency": [1],
   "command": "$work/mcp-process", "args": ["serve", "--config", "$work/full.json"], "cwd": "$work/cwd",
   "env": {"XDG_STATE_HOME": "$work/state"}, "tool": "process_run", "arguments": {"executable": "echo", "args": ["hi"]}}$tmpfs_row
 ]}
JSON
)
node "$here/drive.mjs" "$plan"
