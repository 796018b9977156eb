// Drives mcp-process through the TypeScript SDK's Client, as most MCP
// clients do: listTools (which caches each tool's outputSchema) and then
// Client.callTool (which validates structuredContent against it and throws
// when it does not match). Used by test/e2e/tsclient_test.go.
//
// Usage: node client.mjs PLAN_JSON
//   PLAN_JSON: {"transport": "stdio", "command": BIN, "args": [...], "cwd": DIR,
//               "calls": [{"name": TOOL, "arguments": {...}}, ...]}
//          or  {"transport": "http", "url": URL, "token": TOKEN?, "calls": [...]}
//   An argument whose value is "$pid" or "$serviceId" is replaced by that
//   member of the last structuredContent that had one. A call with
//   "progress": true passes onprogress (and resetTimeoutOnProgress) and
//   reports the progress notifications it got. A call with "until": TEXT is
//   repeated (every 100 ms, for at most 20 s) until its structuredContent's
//   stdout contains TEXT; the last result is reported.
//   "capabilities" (optional) are the client's, as Client's options take
//   them; with "elicitation" among them the client answers elicitation/create
//   (setRequestHandler(ElicitRequestSchema)) with the current call's "elicit"
//   ({"action", "content"?}; a call without one cancels) and reports each
//   question it got in that call's "elicitations" ([ElicitRequest params]).
//   An "elicit" with "page": {"token", "decision"} is the person of a url-mode
//   question: it posts that form to the question's URL (reported as the
//   question's "pageStatus") while the client answers "action".
// Prints one JSON object on stdout:
//   {"tools": [{"name", "inputSchema", "outputSchema"}],
//    "results": [{"name", "threw": bool, "error": MESSAGE, "errorCode": N, "result": CallToolResult,
//                 "progress": [{"progress", "total", "message"}], "elicitations": [...]}]}
// Exit status 0 when every step ran (a call that threw is reported, not fatal);
// 1 when connecting or listing tools failed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const plan = JSON.parse(process.argv[2]);

function transportFor(plan) {
  switch (plan.transport) {
    case 'stdio':
      return new StdioClientTransport({
        command: plan.command,
        args: plan.args ?? [],
        cwd: plan.cwd,
        env: { ...process.env },
        stderr: 'inherit',
      });
    case 'http': {
      const headers = plan.token ? { Authorization: `Bearer ${plan.token}` } : {};
      return new StreamableHTTPClientTransport(new URL(plan.url), { requestInit: { headers } });
    }
    default:
      throw new Error(`unknown transport ${plan.transport}`);
  }
}

const client = new Client({ name: 'e2e-tsclient', version: '1.0.0' }, { capabilities: plan.capabilities ?? {} });
let answer; // the current call's "elicit"
let asked = []; // the questions of the current call
const posts = []; // the page posts under way: each call waits for its own
if (plan.capabilities?.elicitation) {
  client.setRequestHandler(ElicitRequestSchema, async (req) => {
    const q = { ...req.params };
    asked.push(q);
    if (answer?.page && req.params.url) {
      posts.push(fetch(req.params.url, { method: 'POST', body: new URLSearchParams(answer.page) })
        .then(async (r) => { await r.text(); q.pageStatus = r.status; })
        .catch((err) => { q.pageStatus = String(err?.message ?? err); }));
    }
    return answer ? { action: answer.action, content: answer.content } : { action: 'cancel' };
  });
}
const out = { tools: [], results: [] };
try {
  await client.connect(transportFor(plan));
  const listed = await client.listTools();
  out.tools = listed.tools.map((t) => ({ name: t.name, title: t.title, inputSchema: t.inputSchema, outputSchema: t.outputSchema }));
  const last = {};
  for (const c of plan.calls) {
    const args = Object.fromEntries(Object.entries(c.arguments ?? {}).map(
      ([k, v]) => [k, typeof v === 'string' && v.startsWith('$') && v.slice(1) in last ? last[v.slice(1)] : v]));
    const progress = [];
    const options = c.progress ? { onprogress: (p) => progress.push(p), resetTimeoutOnProgress: true } : undefined;
    answer = c.elicit;
    asked = [];
    try {
      let result = await client.callTool({ name: c.name, arguments: args }, undefined, options);
      for (const deadline = Date.now() + 20000; c.until && !String(result.structuredContent?.stdout ?? '').includes(c.until) && Date.now() < deadline;) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        result = await client.callTool({ name: c.name, arguments: args }, undefined, options);
      }
      await Promise.all(posts.splice(0));
      for (const k of ['pid', 'serviceId']) {
        if (result.structuredContent?.[k]) last[k] = result.structuredContent[k];
      }
      out.results.push({ name: c.name, threw: false, result, progress, elicitations: asked });
    } catch (err) {
      await Promise.all(posts.splice(0));
      out.results.push({ name: c.name, threw: true, error: String(err?.message ?? err), errorCode: err?.code, progress, elicitations: asked });
    }
  }
} catch (err) {
  process.stderr.write(`tsclient: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  await client.close().catch(() => {});
}
process.stdout.write(JSON.stringify(out) + '\n');
