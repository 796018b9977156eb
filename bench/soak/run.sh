#!/usr/bin/env bash
# Soak (SPEC 7.2, issue 15): drives the built server through N launches of
# mixed kinds with bad inputs interleaved, then checks from outside that no
# process, cgroup or fd is left and RSS is back within 10% of its value
# after warm-up; prints the report table (docs/reliability.md, "## Soak").
# Usage: bench/soak/run.sh [LAUNCHES [SEED]]   (default 10000, ~15 min; as root)
# The short mode (200 launches) runs in `go test ./...`.
set -euo pipefail
cd "$(dirname "$0")/../.."
n="${1:-10000}"
seed="${2:-15}"
if [ "$(id -u)" != 0 ]; then
	echo "run the soak as root: it counts the server's launch cgroups" >&2
	exit 1
fi
report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
SOAK_REPORT="$report" go test -count=1 -timeout 3h -run '^TestSoak$' ./bench/soak/ \
	-soak.launches="$n" -soak.seed="$seed" -test.v >"$report.log" 2>&1 || status=$?
cat "$report" 2>/dev/null || true
if [ "$status" != 0 ]; then
	grep -v '^time=' "$report.log" | tail -n 60 >&2
fi
rm -f "$report.log"
exit "$status"
