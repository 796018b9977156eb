#!/usr/bin/env bash
# Launch benchmark: prints, for each way of launching /bin/true, the median
# time, its ratio to a bare os/exec launch and, for the fully isolated
# launches, its ratio to bubblewrap, all measured in the same run (variants
# run round robin, so machine noise hits them alike); then each namespace's
# share of a launch and of creating an init stage.
# Usage: bench/run.sh [ITERATIONS]   (default 150, ~4 min; run as root:
# cgroups and namespaces; the bwrap rows need bubblewrap)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-150}"
if ! command -v bwrap >/dev/null 2>&1; then
	printf 'bubblewrap is not installed: the bwrap rows are skipped (install it: apt-get install bubblewrap)\n\n' >&2
fi
if [ "$(id -u)" != 0 ]; then
	printf 'not root: the cgroup, isolated-* and ns-* rows are skipped\n\n' >&2
fi
if ! out=$(go test -run '^$' -bench '^BenchmarkLaunch$' -benchtime "${n}x" -count 1 ./bench/ 2>&1); then
	printf '%s\n' "$out" >&2
	exit 1
fi
line=$(printf '%s\n' "$out" | grep '^BenchmarkLaunch')
printf 'launch of /bin/true, %s iterations, medians of the same run (%s, kernel %s)\n' "$n" "$(date -u +%F)" "$(uname -r)"
printf '(x-bare: *-start against bare-start, until the child runs; the rest against bare-exec, until it has exited;\n'
printf ' x-bwrap: against bwrap --unshare-all --die-with-parent --ro-bind / / --dev /dev --proc /proc /bin/true)\n\n'
printf '%s\n' "$line" | tr '\t' '\n' | awk '
  { name=$2; metric=$2 }
  metric ~ /-median-ns$/ { sub(/-median-ns$/, "", name); med[name]=$1 }
  metric ~ /-x-bare$/    { sub(/-x-bare$/, "", name); xbare[name]=$1 }
  metric ~ /-x-bwrap$/   { sub(/-x-bwrap$/, "", name); xbwrap[name]=$1 }
  metric ~ /-extra-ns$/  { sub(/-extra-ns$/, "", name); extra[name]=$1 }
  END {
    printf "%-26s %10s %8s %8s\n", "variant", "median-ms", "x-bare", "x-bwrap"
    split("bare-exec bare-start stage-run stage-safe-run stage-default-run stage-seccomp-run zygote-run zygote-default-run stage-cold stage-cgroup-run supervisor-start supervisor-run-nocgroup supervisor-run mcp-process_run bwrap bwrap-share-net bwrap-mount-only isolated-stage-run isolated-stage-cold isolated-run isolated-ro-run isolated-nouser-stage-run zygote-isolated-run isolated-nouser-run", order, " ")
    for (i=1; i in order; i++) { n=order[i]; if (!(n in med)) continue
      xb=(n in xbare)?sprintf("%.2f", xbare[n]):"1.00"
      xw=(n in xbwrap)?sprintf("%.2f", xbwrap[n]):(n=="bwrap"?"1.00":"")
      printf "%-26s %10.3f %8s %8s\n", n, med[n]/1e6, xb, xw }
    if ("zygote-run" in med)
      printf "\nzygote (a fork server, no Go runtime per launch): zygote-run / stage-run = %.3f, zygote-default-run / stage-default-run = %.3f\n", med["zygote-run"]/med["stage-run"], med["zygote-default-run"]/med["stage-default-run"]
    if ("zygote-isolated-run" in med)
      printf "\nfull isolation but user namespace (bench/compare profile): zygote-isolated-run / isolated-nouser-stage-run = %.3f, x-bare %.2f (Go stage %.2f, server path isolated-nouser-run %.2f)\n", med["zygote-isolated-run"]/med["isolated-nouser-stage-run"], xbare["zygote-isolated-run"], xbare["isolated-nouser-stage-run"], xbare["isolated-nouser-run"]
    if ("stage-seccomp-run" in extra)
      printf "\nseccomp baseline (no AF_UNIX, AF_VSOCK sockets, no io_uring): stage-seccomp-run / stage-run = %.3f, extra %.3f ms per launch (median per-iteration difference)\n", med["stage-seccomp-run"]/med["stage-run"], extra["stage-seccomp-run"]/1e6
    if (!("ns-user" in med)) exit
    printf "\neach namespace alone (ms; extra: median per-iteration difference to the same launch without it)\n"
    printf "%-10s %12s %10s %12s %10s\n", "namespace", "warm-launch", "extra", "cold-stage", "extra"
    printf "%-10s %12.3f %10s %12.3f %10s\n", "none", med["stage-run"]/1e6, "", med["stage-cold"]/1e6, ""
    split("user pid mount net uts ipc", ns, " ")
    for (i=1; i in ns; i++) { w="ns-" ns[i]; c=w "-cold"
      printf "%-10s %12.3f %10.3f %12.3f %10.3f\n", ns[i], med[w]/1e6, extra[w]/1e6, med[c]/1e6, extra[c]/1e6 }
    if ("isolated-stage-cold" in extra)
      printf "%-10s %12.3f %10.3f %12.3f %10.3f   (full profile: + seccomp strict, landlock)\n", "all", med["isolated-stage-run"]/1e6, (med["isolated-stage-run"]-med["stage-run"])/1e6, med["isolated-stage-cold"]/1e6, extra["isolated-stage-cold"]/1e6
    if ("bwrap-net" in extra)
      printf "\nbwrap: network namespace %.3f ms (bwrap - bwrap-share-net), all namespaces but mount %.3f ms (bwrap - bwrap-mount-only)\n", extra["bwrap-net"]/1e6, extra["bwrap-namespaces"]/1e6
  }'
