#!/usr/bin/env bash
# Launch benchmark: prints, for each way of launching /bin/true, the median
# time and its ratio to a bare os/exec launch measured in the same run
# (variants run round robin, so machine noise hits them alike).
# Usage: bench/run.sh [ITERATIONS]   (default 300; run as root for cgroups)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-300}"
out=$(go test -run '^$' -bench '^BenchmarkLaunch$' -benchtime "${n}x" -count 1 ./bench/)
line=$(printf '%s\n' "$out" | grep '^BenchmarkLaunch')
printf 'launch of /bin/true, %s iterations, medians of the same run\n' "$n"
printf '(x-bare: *-start against bare-start, until the child runs; the rest against bare-exec, until it has exited)\n\n'
printf '%-26s %12s %10s\n' variant median-ms x-bare
printf '%s\n' "$line" | tr '\t' '\n' | awk '
  $2 ~ /-median-ns$/ { name=$2; sub(/-median-ns$/, "", name); med[name]=$1 }
  $2 ~ /-x-bare$/    { name=$2; sub(/-x-bare$/, "", name); ratio[name]=$1 }
  END { split("bare-exec bare-start stage-run stage-cgroup-run supervisor-start supervisor-run-nocgroup supervisor-run mcp-process_run", order, " ");
        for (i=1; i in order; i++) { n=order[i]; if (!(n in med)) continue;
          r=(n in ratio)?sprintf("%.2f", ratio[n]):"1.00"; printf "%-26s %12.3f %10s\n", n, med[n]/1e6, r } }'
