#!/bin/bash
# bench/trace/run.sh [CALLS]: where one `process_run echo hi` call's time
# goes, from kernel trace events (root; tracefs at /sys/kernel/tracing).
#
# Builds the server, starts it on a default-profile config in a temporary
# directory, drives CALLS sequential calls over stdio (python3), and records
# only cheap events: the driver's request write and answer read, the
# zygote's fork, the target's exec and exit, the server's waitid, the
# records' fdatasync, and the scheduler's switches of the zygote and its
# children (how long a child waited for a processor during its steps).
# Prints each phase's median, p25 and p75 (µs) over the calls after the
# first 20. Tracing adds a few µs per event: read the phases against each
# other, not as absolute figures (docs/performance.md, sessions 14 and 15).
# A manual tool; CI runs it with 40 calls so that it cannot rot, as
# information (it never fails CI).
set -euo pipefail
calls=${1:-200}
here=$(cd "$(dirname "$0")" && pwd)
T=/sys/kernel/tracing
[ -w "$T/trace" ] || { echo "needs root and tracefs at $T" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3" >&2; exit 2; }
work=$(mktemp -d)
trap 'echo 0 > $T/tracing_on 2>/dev/null || true; rm -rf "$work"' EXIT
(cd "$here/../.." && CGO_ENABLED=0 go build -o "$work/mcp-process" ./cmd/mcp-process)
mkdir -p "$work/cwd"
cat > "$work/config.json" <<JSON
{"allowedExecutables": ["/usr/bin/echo", "/bin/echo"], "allowedWorkingDirectories": ["$work/cwd"],
 "maxLaunchesPerMinute": 100000, "maxLaunchesPerHour": 1000000, "auditLogPath": "$work/state/audit.log"}
JSON
events="sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit sched/sched_switch
syscalls/sys_enter_fdatasync syscalls/sys_exit_fdatasync syscalls/sys_enter_write syscalls/sys_exit_read
syscalls/sys_enter_waitid syscalls/sys_exit_waitid"
echo 0 > $T/tracing_on; echo > $T/trace; echo 30000 > $T/buffer_size_kb
echo 0 > $T/options/record-tgid # phases.py reads the lines without the tgid column
for e in $events; do echo 1 > "$T/events/$e/enable"; done
echo 'comm == "python3"' > $T/events/syscalls/sys_enter_write/filter
echo 'comm == "python3"' > $T/events/syscalls/sys_exit_read/filter
# The zygote's children are "exe" until their exec (the zygote runs as /proc/self/exe).
echo 'prev_comm == "exe" || next_comm == "exe"' > $T/events/sched/sched_switch/filter
echo 1 > $T/tracing_on
python3 "$here/drive.py" "$work/mcp-process" "$work/config.json" "$work/cwd" "$calls"
echo 0 > $T/tracing_on
for e in $events; do echo 0 > "$T/events/$e/enable"; done
echo 0 > $T/events/syscalls/sys_enter_write/filter
echo 0 > $T/events/syscalls/sys_exit_read/filter
echo 0 > $T/events/sched/sched_switch/filter
cp $T/trace "$work/trace.txt"
python3 "$here/phases.py" "$work/trace.txt"
