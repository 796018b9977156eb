// bench/compare driver: the same TypeScript SDK client (Client.callTool over
// stdio) drives every target in interleaved rounds, a fresh server per round
// and target, and prints one table of ratios against the peer from that one
// run. Usage: node drive.mjs PLAN_JSON (run.sh writes the plan).
//   PLAN: {"rounds": R, "calls": N, "warmup": W, "concurrency": [1, 4],
//          "targets": [{"name", "command", "args", "cwd", "env", "tool", "arguments", "peer": bool}]}
// Measured per target and concurrency: call latency p50/p90/p99 (ms), calls/s
// (wall time of the measured calls), server CPU per call (user+system of the
// server and the children it reaped, from /proc, ms), the server process's
// own share of it (without the children: for mcp-process, without the init
// stages and targets; ms) and the server's RSS after the calls (MiB). Also
// the first tools/list after initialize, split (ms): the server's answer
// (from the request's write to the arrival of the chunk that completes the
// answer on the pipe, before the client parses it), the client's whole
// listTools (the answer, its parsing and the TypeScript SDK compiling every
// output schema with AJV), and the cold start (from spawning the server to
// that answer: process start, initialize, the first list).
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const plan = JSON.parse(process.argv[2]);
const ticks = 100; // USER_HZ on Linux

// cpuMs: [the server's and its reaped children's CPU, the server's own] (ms).
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14-17 (utime stime cutime cstime) are 11-14 after the name
  const own = (+f[11]) + (+f[12]);
  return [(own + (+f[13]) + (+f[14])) * 1000 / ticks, own * 1000 / ticks];
}

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? +m[1] / 1024 : NaN;
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

async function oneRound(t, conc) {
  const transport = new StdioClientTransport({
    command: t.command, args: t.args ?? [], cwd: t.cwd,
    env: { ...process.env, ...(t.env ?? {}) }, stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const client = new Client({ name: 'bench-compare', version: '1' });
  const spawned = performance.now();
  try {
    await client.connect(transport);
  } catch (e) {
    throw new Error(`${t.name}: connect: ${e.message}\n${stderr}`);
  }
  const pid = transport.pid;
  const answer = timeAnswer(transport, 'tools/list');
  const l0 = performance.now();
  await client.listTools();
  const firstList = performance.now() - l0;
  const { sent, answered } = answer.done();
  const listAnswer = answered - sent, coldList = answered - spawned;
  const call = async () => {
    const r = await client.callTool({ name: t.tool, arguments: t.arguments });
    if (r.isError) throw new Error(`${t.name}: ${JSON.stringify(r.content).slice(0, 400)}\n${stderr}`);
  };
  for (let i = 0; i < plan.warmup; i++) await call();
  const lat = [];
  const cpu0 = cpuMs(pid);
  const w0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < plan.calls) {
      next++;
      const s = performance.now();
      await call();
      lat.push(performance.now() - s);
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  const wall = performance.now() - w0;
  const cpu1 = cpuMs(pid);
  const cpu = cpu1[0] - cpu0[0], own = cpu1[1] - cpu0[1];
  const rss = rssMiB(pid);
  await client.close();
  return { lat, wall, cpu, own, rss, firstList, listAnswer, coldList };
}

// timeAnswer times the next request of method on a connected stdio
// transport: sent when the transport is handed the request, answered when
// the chunk that completed its answer arrived on the server's stdout (a
// listener ahead of the transport's, so before the client parses it).
// done() restores the transport and returns both (performance.now() ms).
function timeAnswer(transport, method) {
  const out = transport._process.stdout; // the SDK keeps the child here
  let chunk = 0, sent = NaN, answered = NaN, id;
  const onChunk = () => { chunk = performance.now(); };
  out.prependListener('data', onChunk);
  const send = transport.send, onmessage = transport.onmessage;
  transport.send = (m, o) => {
    if (id === undefined && m.method === method) { id = m.id; sent = performance.now(); }
    return send.call(transport, m, o);
  };
  transport.onmessage = (m, extra) => {
    if (id !== undefined && m.id === id && !('method' in m) && Number.isNaN(answered)) answered = chunk;
    onmessage(m, extra);
  };
  return {
    done() {
      out.removeListener('data', onChunk);
      transport.send = send; transport.onmessage = onmessage;
      return { sent, answered };
    },
  };
}

const results = {}; // key name|conc -> {lat: [], wall, cpu, n, rss: [], firstList: []}
for (let r = 0; r < plan.rounds; r++) {
  for (const conc of plan.concurrency) {
    for (const t of plan.targets) {
      if (t.concurrency && !t.concurrency.includes(conc)) continue;
      const k = `${t.name}|${conc}`;
      const o = await oneRound(t, conc);
      const acc = results[k] ??= { t, conc, lat: [], wall: 0, cpu: 0, own: 0, n: 0, rss: [], firstList: [], listAnswer: [], coldList: [] };
      acc.lat.push(...o.lat); acc.wall += o.wall; acc.cpu += o.cpu; acc.own += o.own; acc.n += o.lat.length;
      acc.rss.push(o.rss); acc.firstList.push(o.firstList); acc.listAnswer.push(o.listAnswer); acc.coldList.push(o.coldList);
    }
  }
}

const rows = [];
for (const acc of Object.values(results)) {
  const s = acc.lat.slice().sort((a, b) => a - b);
  const median = (xs) => pct(xs.slice().sort((a, b) => a - b), 0.5);
  rows.push({
    name: acc.t.name, peer: !!acc.t.peer, conc: acc.conc,
    p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99),
    rate: acc.n / (acc.wall / 1000), cpu: acc.cpu / acc.n, own: acc.own / acc.n,
    rss: Math.max(...acc.rss),
    firstList: median(acc.firstList), listAnswer: median(acc.listAnswer), coldList: median(acc.coldList),
  });
}
const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '-');
console.log(`bench/compare: ${plan.rounds} round(s) x ${plan.calls} calls after ${plan.warmup} warm-up, a fresh server per round, interleaved; the same TypeScript SDK client over stdio`);
console.log('first tools/list (medians over rounds): "server answer" is the request written to the answer arrived on the pipe; "client listTools" the whole Client.listTools (that answer, parsing, AJV compiling every output schema); "start to answer" from spawning the server');
console.log('');
console.log('| target | conc | p50 ms | p90 ms | p99 ms | calls/s | server CPU ms/call | own CPU ms/call | RSS MiB | first tools/list: server answer ms | client listTools ms | start to answer ms | p50 vs peer | p99 vs peer | calls/s vs peer | CPU vs peer | own CPU vs peer |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const conc of plan.concurrency) {
  const peer = rows.find((r) => r.peer && r.conc === conc);
  for (const r of rows.filter((x) => x.conc === conc)) {
    const ratio = (a, b) => (peer ? f(a / b) : '-');
    console.log(`| ${r.name} | ${r.conc} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${f(r.rate, 0)} | ${f(r.cpu)} | ${f(r.own)} | ${f(r.rss, 0)} | ${f(r.listAnswer)} | ${f(r.firstList)} | ${f(r.coldList, 1)} | ${ratio(r.p50, peer?.p50)} | ${ratio(r.p99, peer?.p99)} | ${ratio(r.rate, peer?.rate)} | ${ratio(r.cpu, peer?.cpu)} | ${ratio(r.own, peer?.own)} |`);
  }
}
