"""drive.py SERVER CONFIG CWD N: N sequential process_run calls over stdio."""
import json, subprocess, sys, time, statistics

server, config, cwd, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
p = subprocess.Popen([server, "serve", "--config", config], stdin=subprocess.PIPE,
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=cwd)


def call(msg):
    p.stdin.write((json.dumps(msg) + "\n").encode())
    p.stdin.flush()
    if "id" not in msg:
        return None
    while True:
        r = json.loads(p.stdout.readline())
        if r.get("id") == msg["id"]:
            return r


call({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "2025-06-18",
     "capabilities": {}, "clientInfo": {"name": "trace", "version": "1"}}})
call({"jsonrpc": "2.0", "method": "notifications/initialized"})
lat = []
for i in range(n):
    t = time.perf_counter()
    r = call({"jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {"name": "process_run",
             "arguments": {"executable": "echo", "args": ["hi"], "cwd": cwd}}})
    lat.append((time.perf_counter() - t) * 1000)
    if r.get("result", {}).get("isError"):
        sys.exit("call failed: %s" % r)
p.stdin.close()
p.wait()
print("calls: %d, p50 %.2f ms (traced)" % (n, statistics.median(lat[20:] or lat)))
