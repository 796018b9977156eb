"""phases.py TRACE: one call's phases from run.sh's events (µs)."""
import re, statistics, sys

calls, cur = [], None
for line in open(sys.argv[1]):
    m = re.match(r"\s*(\S+)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+): (\w+)(.*)", line)
    if not m:
        continue
    comm, t, name, rest = m.group(1), float(m.group(3)) * 1e6, m.group(4), m.group(5)
    if comm == "python3" and name == "sys_write" and "fd: 0" not in rest:
        cur = {"req": t, "fds": []}  # the driver's request (its one write per call)
        calls.append(cur)
    elif cur is None:
        continue
    elif name == "sched_process_fork":
        if "fork" not in cur:
            cur["fork"] = t
            m = re.search(r"child_pid=(\d+)", rest)
            cur["child"], cur["ready"], cur["waiting"] = m and m.group(1), t, 0.0  # runnable from its birth
    elif name == "sched_switch" and "child" in cur and "exec" not in cur:
        # The child's time runnable but not running, until its exec: from
        # its fork or a preemption (prev_state R) to its next switch in.
        m = re.search(r"prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)", rest)
        if m and m.group(3) == cur["child"] and cur["ready"] is not None:
            cur["waiting"] += t - cur["ready"]
            cur["ready"] = None
        elif m and m.group(1) == cur["child"]:
            cur["ready"] = t if m.group(2).startswith("R") else None
    elif name == "sched_process_exec":
        cur.setdefault("exec", t)
    elif name == "sched_process_exit" and "comm=echo" in rest:
        cur.setdefault("exit", t)
    elif name == "sys_waitid" and "->" in rest and "exit" in cur:
        cur.setdefault("waited", t)
    elif name == "sys_fdatasync" and "(fd" in rest:
        cur["fds"].append([t, None])
    elif name == "sys_fdatasync" and "->" in rest and cur["fds"] and cur["fds"][-1][1] is None:
        cur["fds"][-1][1] = t
    elif comm == "python3" and name == "sys_read":
        cur.setdefault("answer", t)

rows = []
for c in calls[20:]:
    if not all(k in c for k in ("fork", "exec", "exit", "waited", "answer")) or len(c["fds"]) < 2:
        continue
    (l0, l1), (e0, e1) = c["fds"][0], c["fds"][-1]
    if None in (l1, e1):
        continue
    rows.append({
        "request -> zygote's fork": c["fork"] - c["req"],
        "fork -> launch record's fdatasync": l0 - c["fork"],
        "launch record's fdatasync": l1 - l0,
        "fork -> target's exec (the child's steps)": c["exec"] - c["fork"],
        "  of which the child runnable, not running": c["waiting"],
        "exec -> target's exit": c["exit"] - c["exec"],
        "exit -> server's waitid returns": c["waited"] - c["exit"],
        "waitid -> exit record's fdatasync": e0 - c["waited"],
        "exit record's fdatasync": e1 - e0,
        "-> answer read by the client": c["answer"] - e1,
        "the call": c["answer"] - c["req"],
    })
if not rows:
    sys.exit("no complete call in the trace")
print("%d calls (medians, p25-p75, µs)" % len(rows))
for k in rows[0]:
    v = sorted(r[k] for r in rows)
    print("  %-45s %7.0f  %6.0f-%-6.0f" % (k, statistics.median(v), v[len(v) // 4], v[3 * len(v) // 4]))
